//! Remote storage endpoints (write receiver, read server) and the remote read client.
