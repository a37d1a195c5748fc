//! Volley's load engine (`load`) and target guard (`guard`): everything `volley attack` and `volley vet`
//! need, with no AWS dependency. The functions reach them through `volley-core`'s ports and adapters; the
//! layer order inside is in ARCHITECTURE.md (`make lint` holds it).

pub mod guard;
pub mod load;
