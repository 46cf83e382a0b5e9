"""The analytics store on ClickHouse: schema, executors (server or embedded), adapter."""
