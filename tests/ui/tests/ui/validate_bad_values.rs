#[derive(capacitor::Validate)]
pub struct Signup {
    #[capacitor(validate(min_len = -1, pattern = 5, in = "free", ignore = "never"))]
    pub plan: String,
    #[capacitor(validate(gt = 3000000000))]
    pub age: i32,
    #[capacitor(validate(min_len = 1, min_len = 2))]
    pub name: String,
    #[capacitor(validate(min_len = 1))]
    pub level: u8,
    #[capacitor(validate(cel(id = "broken", severity = "high")))]
    pub note: String,
}

fn main() {}
