//! A tonic gRPC service on Capacitor's generated types. `shop.v1.AddItemRequest` and `AddItemResponse` come
//! from capgen (with `impl Validate` from their `buf.validate` rules); the `Catalog` service comes from
//! tonic-build, built with `extern_path` to those types and `codec_path` to
//! [`capacitor::grpc::ValidatingCodec`], so every request is validated before [`Shop::add_item`] runs and an
//! invalid one is answered `INVALID_ARGUMENT` with a `google.rpc.BadRequest` detail.
//!
//! Run the server with `cargo run -p grpc` (it listens on 127.0.0.1:50051); `tests/validation.rs` calls it
//! with a real client over loopback.

pub mod shop {
    pub mod v1 {
        capacitor::include_proto!("shop.v1");
        /// The `Catalog` service's server and client (tonic-build).
        pub mod catalog {
            include!(concat!(env!("OUT_DIR"), "/services/shop.v1.rs"));
        }
    }
}

use shop::v1::catalog::catalog_server::{Catalog, CatalogServer};
use shop::v1::{AddItemRequest, AddItemResponse};
use tonic::{Request, Response, Status};

/// The service's handlers: only valid requests arrive here.
#[derive(Debug, Default)]
pub struct Shop;

#[tonic::async_trait]
impl Catalog for Shop {
    async fn add_item(
        &self,
        request: Request<AddItemRequest>,
    ) -> Result<Response<AddItemResponse>, Status> {
        let item = request.into_inner();
        Ok(Response::new(AddItemResponse { sku: item.sku }))
    }
}

/// Serves [`Shop`] on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_service(CatalogServer::new(Shop))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
        .await
}
