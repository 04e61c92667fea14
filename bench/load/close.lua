-- Every request asks the server to close the connection after its response, so each one opens a new
-- connection: with https, a full TLS handshake per request.
wrk.headers["Connection"] = "close"
