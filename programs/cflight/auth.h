/* Authentication for `cflight serve`: users and passwords from a file
 * (--auth-basic: "user:password" lines) and static bearer tokens from a
 * file (--auth-token: one token per line).
 *
 * Clients log in either way Arrow Flight defines:
 * - the BasicAuth handshake: a Handshake whose payload is a BasicAuth
 *   message; the answer's payload is a token, sent back by the client in
 *   the auth-token-bin header of later calls;
 * - the header scheme: a Handshake carrying "authorization: Basic
 *   base64(user:password)", answered with "authorization: Bearer TOKEN",
 *   which later calls carry.
 * Every other call must carry a token (either header), a static token, or
 * "authorization: Basic ..." itself. Tokens are signed (HMAC-SHA256 with a
 * key made at startup) and expire after 24 hours; they name the user. */
#ifndef CLI_AUTH_H
#define CLI_AUTH_H

#include "util.h"

typedef struct auth auth;

/* Loads the files (either may be NULL; both NULL: no authentication).
 * Errors name the file and line. */
int auth_new(const char *passwords_file, const char *tokens_file, auth **out, cflight_error *err);
void auth_free(auth *a);

bool auth_enabled(const auth *a);
size_t auth_user_count(const auth *a);

/* The middleware that checks every call but Handshake (it borrows a, which
 * must outlive the server). */
cflight_server_middleware_factory *auth_middleware_new(auth *a);

/* The Handshake handler: either login scheme. */
int auth_handshake(auth *a, cflight_call_context *ctx, cflight_auth_stream *stream,
                   cflight_error *err);

/* For the tests: issue and check tokens. */
char *auth_issue_token(auth *a, const char *user);
bool auth_check_token(auth *a, const char *token, size_t len, char **user);

#endif /* CLI_AUTH_H */
