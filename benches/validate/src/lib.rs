//! The benchmark subjects: the generated `bench.v1.Signup` (validated by Capacitor's generated code and by
//! prost-protovalidate's runtime validator, on the same value), and a hand-written form struct with the rules
//! garde supports (validated by `#[derive(garde::Validate)]` and by `#[derive(capacitor::Validate)]`).

use prost_reflect::{DescriptorPool, MessageDescriptor, ReflectMessage};
use std::collections::HashMap;
use std::sync::LazyLock;

pub mod bench {
    pub mod v1 {
        capacitor::include_proto!("bench.v1");
    }
}

use bench::v1::{Address, Booking, Item, Plan, Signup};

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin")).as_slice())
        .expect("the build script wrote a valid descriptor set")
});

/// prost-protovalidate reads rules through prost-reflect: give the generated types their descriptors.
impl ReflectMessage for Booking {
    fn descriptor(&self) -> MessageDescriptor {
        POOL.get_message_by_name("bench.v1.Booking")
            .expect("bench.v1.Booking is in the pool")
    }
}

/// A valid `Booking`: every CEL rule runs and holds (three items for the comprehension).
pub fn valid_booking() -> Booking {
    let item = |sku: &str, quantity, price_cents| Item {
        sku: sku.into(),
        quantity,
        price_cents,
    };
    Booking {
        code: "BK-1234567".into(),
        items: vec![item("room", 2, 12_000), item("breakfast", 4, 1_500), item("parking", 1, 0)],
        start_time: Some(pbjson_types::Timestamp { seconds: 1_700_000_000, nanos: 0 }),
        end_time: Some(pbjson_types::Timestamp { seconds: 1_700_259_200, nanos: 0 }),
        guests: 2,
        nightly_cents: 12_000,
        budget_cents: 50_000,
    }
}

/// The same five rules for the `cel` crate's interpreter: each program with a context binding `this` the way a
/// runtime validator would (the field's value, or the message as a map), built once.
pub struct Interpreted {
    rules: Vec<(cel::Program, cel::Context<'static, 'static>)>,
}

impl Interpreted {
    /// Compiles the rules of `bench.v1.Booking` and binds `this` from `b`.
    pub fn new(b: &Booking) -> Self {
        use cel::Value;
        let time = |t: &Option<pbjson_types::Timestamp>| {
            let t = t.as_ref().expect("set");
            Value::Timestamp(
                chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32)
                    .expect("in range")
                    .fixed_offset(),
            )
        };
        let message: HashMap<String, Value> = HashMap::from([
            ("start_time".to_string(), time(&b.start_time)),
            ("end_time".to_string(), time(&b.end_time)),
            ("guests".to_string(), Value::Int(b.guests)),
            ("nightly_cents".to_string(), Value::Int(b.nightly_cents)),
            ("budget_cents".to_string(), Value::Int(b.budget_cents)),
        ]);
        let items: Vec<Value> = b
            .items
            .iter()
            .map(|i| {
                Value::from(HashMap::from([
                    ("sku".to_string(), Value::from(i.sku.clone())),
                    ("quantity".to_string(), Value::Int(i.quantity)),
                    ("price_cents".to_string(), Value::Int(i.price_cents)),
                ]))
            })
            .collect();
        let rules: [(&str, Value); 5] = [
            ("this.end_time > this.start_time", Value::from(message.clone())),
            ("this.guests * this.nightly_cents <= this.budget_cents", Value::from(message)),
            ("this.startsWith('BK-') && size(this) == 10", Value::from(b.code.clone())),
            ("this.all(i, i.quantity > 0 && i.price_cents >= 0)", Value::from(items)),
            ("this >= 1 && this <= 12", Value::Int(b.guests)),
        ];
        Interpreted {
            rules: rules
                .into_iter()
                .map(|(expression, this)| {
                    let program = cel::Program::compile(expression).expect("compiles");
                    let mut context = cel::Context::default();
                    context.add_variable_from_value("this", this);
                    (program, context)
                })
                .collect(),
        }
    }

    /// Evaluates every rule; `true` when all hold.
    pub fn validate(&self) -> bool {
        self.rules
            .iter()
            .all(|(program, context)| matches!(program.execute(context), Ok(cel::Value::Bool(true))))
    }
}

impl ReflectMessage for Signup {
    fn descriptor(&self) -> MessageDescriptor {
        POOL.get_message_by_name("bench.v1.Signup")
            .expect("bench.v1.Signup is in the pool")
    }
}

/// A valid `Signup` exercising every rule (tags and labels non-empty so their item rules run).
pub fn valid_signup() -> Signup {
    Signup {
        id: "8f14e45f-ceea-467f-a8f5-3b8d1c2e9a10".into(),
        email: "ada.lovelace@example.com".into(),
        name: "Ada Lovelace".into(),
        password: "correct horse battery".into(),
        age: 36,
        tags: vec!["math".into(), "engines".into(), "poetry".into()],
        plan: Plan::Pro as i32,
        address: Some(Address {
            city: "London".into(),
            country: "GB".into(),
        }),
        labels: HashMap::from([
            ("team".to_string(), "analytical".to_string()),
            ("tier".to_string(), "gold".to_string()),
        ]),
        referrals: 12,
    }
}

/// The same data as a hand-written struct, with the rules garde supports, declared for garde.
#[derive(Debug, Clone, garde::Validate)]
pub struct GardeSignup {
    #[garde(pattern(
        r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ))]
    pub id: String,
    #[garde(email)]
    pub email: String,
    #[garde(length(chars, min = 1, max = 64))]
    pub name: String,
    #[garde(length(chars, min = 8, max = 128))]
    pub password: String,
    #[garde(range(min = 13, max = 150))]
    pub age: i32,
    #[garde(length(max = 10), inner(length(chars, min = 1, max = 32)))]
    pub tags: Vec<String>,
    #[garde(dive)]
    pub address: GardeAddress,
    #[garde(length(max = 16))]
    pub labels: HashMap<String, String>,
    #[garde(range(max = 1000))]
    pub referrals: u32,
}

/// The nested message of [`GardeSignup`].
#[derive(Debug, Clone, garde::Validate)]
pub struct GardeAddress {
    #[garde(length(chars, min = 1, max = 100))]
    pub city: String,
    #[garde(length(chars, equal = 2))]
    pub country: String,
}

/// The same struct with the same rules, declared for `#[derive(capacitor::Validate)]`.
#[derive(Debug, Clone, capacitor::Validate)]
pub struct CapacitorSignup {
    #[capacitor(validate(
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ))]
    pub id: String,
    #[capacitor(validate(email))]
    pub email: String,
    #[capacitor(validate(min_len = 1, max_len = 64))]
    pub name: String,
    #[capacitor(validate(min_len = 8, max_len = 128))]
    pub password: String,
    #[capacitor(validate(gte = 13, lte = 150))]
    pub age: i32,
    #[capacitor(validate(max_items = 10, items(min_len = 1, max_len = 32)))]
    pub tags: Vec<String>,
    pub address: CapacitorAddress,
    #[capacitor(validate(max_pairs = 16))]
    pub labels: HashMap<String, String>,
    #[capacitor(validate(lte = 1000))]
    pub referrals: u32,
}

/// The nested message of [`CapacitorSignup`].
#[derive(Debug, Clone, capacitor::Validate)]
pub struct CapacitorAddress {
    #[capacitor(validate(min_len = 1, max_len = 100))]
    pub city: String,
    #[capacitor(validate(len = 2))]
    pub country: String,
}

impl CapacitorSignup {
    /// The garde form's data in the Capacitor struct.
    pub fn from_garde(g: &GardeSignup) -> Self {
        CapacitorSignup {
            id: g.id.clone(),
            email: g.email.clone(),
            name: g.name.clone(),
            password: g.password.clone(),
            age: g.age,
            tags: g.tags.clone(),
            address: CapacitorAddress {
                city: g.address.city.clone(),
                country: g.address.country.clone(),
            },
            labels: g.labels.clone(),
            referrals: g.referrals,
        }
    }
}

impl GardeSignup {
    /// [`valid_signup`] as the garde struct.
    pub fn from_signup(s: &Signup) -> Self {
        let address = s.address.clone().unwrap_or_default();
        GardeSignup {
            id: s.id.clone(),
            email: s.email.clone(),
            name: s.name.clone(),
            password: s.password.clone(),
            age: s.age,
            tags: s.tags.clone(),
            address: GardeAddress {
                city: address.city,
                country: address.country,
            },
            labels: s.labels.clone(),
            referrals: s.referrals,
        }
    }
}
