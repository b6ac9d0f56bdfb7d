#[derive(capacitor::Validate)]
pub struct Signup {
    #[capacitor(validate(pattern = "([a-z]+"))]
    pub name: String,
    #[capacitor(validate(in = ["free", "pro", "free"]))]
    pub plan: String,
}

fn main() {}
