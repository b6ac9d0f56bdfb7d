#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Plan {
    Free = 0,
    Pro = 1,
}

#[derive(capacitor::Validate)]
pub struct Account {
    #[capacitor(validate(enumeration = "Plan", defined_only))]
    pub plan: i32,
}

fn main() {}
