//! The embedded reference server: a faithful, fast implementation of the whole contract, with
//! faults that each break one behaviour.

mod fault;

pub use fault::Fault;
