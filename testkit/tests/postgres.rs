//! The PostgreSQL test server starts as the right user, accepts connections and creates databases.

use capacitor_testkit::postgres::PostgresServer;

#[test]
fn starts_creates_databases_and_stops_on_drop() {
    let server = PostgresServer::start().expect("server starts");
    let port = server.port();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let url = server.create_database("testkit_check").expect("createdb");
    assert_eq!(
        url,
        format!("postgres://postgres@127.0.0.1:{port}/testkit_check")
    );
    assert!(
        server.create_database("testkit_check").is_err(),
        "a second createdb of the same name fails"
    );
    drop(server);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "stopped on drop"
    );
}
