#[derive(capacitor::Validate)]
pub struct Account {
    // The second rule is wrong: the error points at it, not at the first.
    #[capacitor(validate(
        cel(id = "credits.positive", expression = "this > 0"),
        cel(id = "credits.even", expression = "this % 2 == 0 && this.string().size() < 9")
    ))]
    pub credits: i64,
}

fn main() {}
