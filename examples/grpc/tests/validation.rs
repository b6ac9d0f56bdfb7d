//! The validating service end to end: a real tonic client over loopback TCP.

use grpc::shop::v1::AddItemRequest;
use grpc::shop::v1::catalog::catalog_client::CatalogClient;
use tonic::Code;
use tonic_types::StatusExt;

async fn client() -> CatalogClient<tonic::transport::Channel> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(grpc::serve(listener));
    CatalogClient::connect(format!("http://{address}"))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_valid_request_reaches_the_handler() {
    let mut client = client().await;
    let response = client
        .add_item(AddItemRequest {
            sku: "tea-001".into(),
            contact_email: "buyer@example.com".into(),
            price_cents: 450,
        })
        .await
        .unwrap();
    assert_eq!(response.into_inner().sku, "tea-001");
}

#[tokio::test]
async fn an_invalid_request_is_invalid_argument_with_a_bad_request_detail_and_no_values() {
    let mut client = client().await;
    let status = client
        .add_item(AddItemRequest {
            sku: "x".into(),
            contact_email: "not-an-address".into(),
            price_cents: -5,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let bad_request = status
        .get_details_bad_request()
        .expect("a google.rpc.BadRequest detail");
    let violations: Vec<(&str, &str)> = bad_request
        .field_violations
        .iter()
        .map(|v| (v.field.as_str(), v.description.as_str()))
        .collect();
    assert_eq!(
        violations,
        [
            (
                "sku",
                "value length must be at least 3 characters [string.min_len]"
            ),
            (
                "contact_email",
                "value must be a valid email address [string.email]"
            ),
            (
                "price_cents",
                "value must be greater than or equal to 0 [int64.gte]"
            ),
        ]
    );
    let everything = format!("{} {:?}", status.message(), bad_request);
    for value in ["not-an-address", "-5", "\"x\""] {
        assert!(!everything.contains(value), "a value leaked: {everything}");
    }
}
