#[derive(capacitor::Validate)]
pub struct Signup {
    #[capacitor(validate(emial, max_len = 254))]
    pub email: String,
}

fn main() {}
