//! promptops eval engine. So far: the pricing table and money arithmetic.

pub mod pricing;
