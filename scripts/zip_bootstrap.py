"""Write a Lambda package: a zip holding one file, `bootstrap`, with fixed timestamp and mode.

Usage: zip_bootstrap.py BINARY ZIP

Python's zipfile is used rather than `zip` so the result depends only on the binary's bytes: the entry's
date is fixed at 1980-01-01, its mode at 0755, and nothing else (no extra fields, no directory entry) is
written. Same binary, same zip, same hash.
"""

import os
import sys
import zipfile

FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def main(binary: str, target: str) -> None:
    with open(binary, "rb") as f:
        data = f.read()
    info = zipfile.ZipInfo("bootstrap", date_time=FIXED_DATE)
    info.external_attr = (0o100755 << 16)  # a regular file, rwxr-xr-x
    info.create_system = 3  # Unix, so the mode is honoured
    info.compress_type = zipfile.ZIP_DEFLATED
    tmp = target + ".tmp"
    with zipfile.ZipFile(tmp, "w") as z:
        z.writestr(info, data, compresslevel=9)
    os.replace(tmp, target)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: zip_bootstrap.py BINARY ZIP")
    main(sys.argv[1], sys.argv[2])
