#[derive(capacitor::Validate)]
pub struct Account {
    #[capacitor(validate(cel(id = "credits.even", expression = "this % 2 == 0 && this.string().size() < 9")))]
    pub credits: i64,
}

fn main() {}
