"""Write a Lambda package: a zip holding one file, `bootstrap`, with fixed timestamp and mode.

Usage: zip_bootstrap.py [--fast] BINARY ZIP

--fast compresses at zlib level 1 rather than 9: the local stack's unoptimised bootstraps are about 60 MB
each and never leave the machine, and level 9 took 12 s for each of them, level 1 under a second.

Python's zipfile is used rather than `zip` so the result depends only on the binary's bytes: the entry's
date is fixed at 1980-01-01, its mode at 0755, and nothing else (no extra fields, no directory entry) is
written. Same binary, same zip, same hash.
"""

import os
import sys
import zipfile

FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def main(binary: str, target: str, level: int) -> None:
    with open(binary, "rb") as f:
        data = f.read()
    info = zipfile.ZipInfo("bootstrap", date_time=FIXED_DATE)
    info.external_attr = (0o100755 << 16)  # a regular file, rwxr-xr-x
    info.create_system = 3  # Unix, so the mode is honoured
    info.compress_type = zipfile.ZIP_DEFLATED
    tmp = target + ".tmp"
    with zipfile.ZipFile(tmp, "w") as z:
        z.writestr(info, data, compresslevel=level)
    os.replace(tmp, target)


if __name__ == "__main__":
    args = sys.argv[1:]
    level = 9
    if args[:1] == ["--fast"]:
        level, args = 1, args[1:]
    if len(args) != 2:
        sys.exit("usage: zip_bootstrap.py [--fast] BINARY ZIP")
    main(args[0], args[1], level)
