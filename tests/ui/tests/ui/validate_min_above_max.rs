#[derive(capacitor::Validate)]
pub struct Signup {
    #[capacitor(validate(min_len = 5, max_len = 3))]
    pub name: String,
    #[capacitor(validate(min_items = 2, max_items = 1))]
    pub tags: Vec<String>,
}

fn main() {}
