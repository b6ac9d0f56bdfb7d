//! `cargo run -p grpc`: the validating `Catalog` service on 127.0.0.1:50051.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
    println!("Catalog listening on {}", listener.local_addr()?);
    grpc::serve(listener).await?;
    Ok(())
}
