#[derive(capacitor::Validate)]
pub struct Signup {
    #[capacitor(validate(email))]
    pub age: i32,
    #[capacitor(validate(min_len = 1))]
    pub tags: Vec<String>,
    #[capacitor(validate(gt = 0))]
    pub address: Address,
}

#[derive(capacitor::Validate)]
pub struct Address {
    pub city: String,
}

fn main() {}
