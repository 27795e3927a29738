/* Client connections (see conn.h). */
#include "conn.h"

#include <strings.h>
#include <termios.h>
#include <unistd.h>

enum {
  C_TLS_CA = CONN_OPT_BASE,
  C_TLS_CERT,
  C_TLS_KEY,
  C_INSECURE,
  C_OVERRIDE,
  C_USER,
  C_PASSWORD,
  C_HANDSHAKE,
  C_TOKEN,
  C_HEADER,
  C_TIMEOUT,
  C_OPTION,
};

const arg_spec conn_specs[] = {
    {"tls-ca", 0, "FILE", C_TLS_CA,
     "trust the server certificates signed by these CAs (PEM)\n(default: the system's)"},
    {"tls-cert", 0, "FILE", C_TLS_CERT, "client certificate for mutual TLS (PEM)"},
    {"tls-key", 0, "FILE", C_TLS_KEY, "the client certificate's private key (PEM)"},
    {"tls-override-hostname", 0, "NAME", C_OVERRIDE,
     "verify the server as NAME (and send it as SNI)"},
    {"insecure", 'k', NULL, C_INSECURE, "do not verify the server's certificate (tests only)"},
    {"user", 'u', "NAME", C_USER,
     "log in as NAME (password from --password, $CFLIGHT_PASSWORD,\nor a prompt)"},
    {"password", 0, "PASSWORD", C_PASSWORD,
     "the password for --user (other users can see it in `ps`:\nprefer $CFLIGHT_PASSWORD or the "
     "prompt)"},
    {"handshake", 0, NULL, C_HANDSHAKE,
     "log in with the BasicAuth handshake (default: HTTP basic\nauthentication for a bearer "
     "token)"},
    {"token", 0, "TOKEN", C_TOKEN,
     "send 'authorization: Bearer TOKEN' on every call (or set\n$CFLIGHT_TOKEN, which `ps` does "
     "not show)"},
    {"header", 'H', "KEY=VALUE", C_HEADER, "add a header to every call (repeatable)"},
    {"timeout", 't', "SECONDS", C_TIMEOUT, "deadline of each call (default: none)"},
    {"option", 0, "NAME=VALUE", C_OPTION,
     "a transport option (repeatable): stream_window,\nconnect_timeout_ms, "
     "grpc.max_receive_message_length, ..."},
    {NULL, 0, NULL, 0, NULL},
};

int conn_opts_apply(conn_opts *o, const arg_spec *spec, const char *value, char *msg, size_t cap) {
  switch (spec->id) {
    case C_TLS_CA:
      o->tls_ca = value;
      break;
    case C_TLS_CERT:
      o->tls_cert = value;
      break;
    case C_TLS_KEY:
      o->tls_key = value;
      break;
    case C_INSECURE:
      o->insecure = true;
      break;
    case C_OVERRIDE:
      o->tls_override_hostname = value;
      break;
    case C_USER:
      o->user = value;
      break;
    case C_PASSWORD:
      o->password = value;
      break;
    case C_HANDSHAKE:
      o->handshake = true;
      break;
    case C_TOKEN:
      o->token = value;
      break;
    case C_HEADER:
      if (strchr(value, '=') == NULL && strchr(value, ':') == NULL) {
        snprintf(msg, cap, "--header wants KEY=VALUE, not '%s'", value);
        return 1;
      }
      if (o->n_headers == CONN_MAX_HEADERS) {
        snprintf(msg, cap, "at most %d --header options", CONN_MAX_HEADERS);
        return 1;
      }
      o->headers[o->n_headers++] = value;
      break;
    case C_OPTION:
      if (strchr(value, '=') == NULL || o->n_options == CONN_MAX_HEADERS) {
        snprintf(msg, cap, "--option wants NAME=VALUE, not '%s'", value);
        return 1;
      }
      o->options[o->n_options++] = value;
      break;
    case C_TIMEOUT:
      if (!parse_double(value, &o->timeout) || o->timeout < 0) {
        snprintf(msg, cap, "--timeout wants a number of seconds, not '%s'", value);
        return 1;
      }
      break;
    default:
      snprintf(msg, cap, "unexpected option");
      return 1;
  }
  return 0;
}

const char *conn_normalize_uri(const char *uri, char *buf, size_t cap) {
  if (strstr(uri, "://") != NULL || strncmp(uri, "unix:", 5) == 0 ||
      strncmp(uri, "grpc+unix:", 10) == 0) {
    snprintf(buf, cap, "%s", uri);
  } else {
    snprintf(buf, cap, "grpc://%s", uri);
  }
  return buf;
}

struct conn {
  char uri[1024];
  conn_opts opts;
  cflight_client *client;
  cflight_call_options *call;
  cflight_client_auth_handler *auth;
  char *password; /* prompted; wiped at close */
};

cflight_client *conn_client(conn *c) {
  return c->client;
}

const cflight_call_options *conn_call_options(conn *c) {
  return c->call;
}

const char *conn_uri(const conn *c) {
  return c->uri;
}

const conn_opts *conn_options(const conn *c) {
  return &c->opts;
}

/* Reads a password from the terminal without echo. */
static char *prompt_password(const char *user) {
  if (!isatty(STDIN_FILENO)) return NULL;
  fprintf(stderr, "Password for %s: ", user);
  fflush(stderr);
  struct termios old, quiet;
  bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
  if (restore) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  char buf[1024];
  char *line = fgets(buf, sizeof(buf), stdin);
  if (restore) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  fputc('\n', stderr);
  if (line == NULL) return NULL;
  buf[strcspn(buf, "\r\n")] = '\0';
  char *p = strdup(buf);
  memset(buf, 0, sizeof(buf));
  return p;
}

static int load_pem(const char *path, const char *what, char **out, cflight_error *err) {
  return read_text_file(path, what, 1 << 20, out, NULL, err);
}

static int make_client(conn *c, cflight_error *err) {
  const conn_opts *o = &c->opts;
  cflight_client_options *co = cflight_client_options_new();
  if (co == NULL) return CF_NOMEM(err, "client options");
  int rc = CFLIGHT_OK;
  char *pem = NULL, *cert = NULL, *key = NULL;
  if (o->tls_ca != NULL) {
    rc = load_pem(o->tls_ca, "CA certificate file (--tls-ca)", &pem, err);
    if (rc == CFLIGHT_OK) rc = cflight_client_options_set_tls_root_certs(co, pem, err);
  }
  if (rc == CFLIGHT_OK && (o->tls_cert != NULL || o->tls_key != NULL)) {
    if (o->tls_cert == NULL || o->tls_key == NULL) {
      rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "mutual TLS needs both --tls-cert and --tls-key");
    }
    if (rc == CFLIGHT_OK) rc = load_pem(o->tls_cert, "client certificate (--tls-cert)", &cert, err);
    if (rc == CFLIGHT_OK) rc = load_pem(o->tls_key, "client key (--tls-key)", &key, err);
    if (rc == CFLIGHT_OK) rc = cflight_client_options_set_tls_client_cert(co, cert, key, err);
  }
  if (rc == CFLIGHT_OK && o->tls_override_hostname != NULL) {
    rc = cflight_client_options_set_tls_override_hostname(co, o->tls_override_hostname, err);
  }
  if (rc == CFLIGHT_OK && o->insecure) {
    cflight_client_options_set_disable_server_verification(co, true);
  }
  for (int i = 0; rc == CFLIGHT_OK && i < o->n_options; i++) {
    char name[128];
    const char *eq = strchr(o->options[i], '=');
    snprintf(name, sizeof(name), "%.*s", (int)(eq - o->options[i]), o->options[i]);
    rc = cflight_client_options_set_generic(co, name, eq + 1, err);
    if (rc != CFLIGHT_OK) err_prefix(err, "--option %s", o->options[i]);
  }
  if (rc == CFLIGHT_OK) rc = cflight_client_connect(c->uri, co, &c->client, err);
  if (key != NULL) memset(key, 0, strlen(key));
  free(pem);
  free(cert);
  free(key);
  cflight_client_options_free(co);
  return rc;
}

static int add_header_kv(cflight_call_options *call, const char *kv, cflight_error *err) {
  const char *sep = strchr(kv, '=');
  const char *colon = strchr(kv, ':');
  if (sep == NULL || (colon != NULL && colon < sep)) sep = colon;
  char key[256];
  size_t klen = (size_t)(sep - kv);
  if (klen == 0 || klen >= sizeof(key)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "bad --header '%s'", kv);
  }
  memcpy(key, kv, klen);
  key[klen] = '\0';
  const char *value = sep + 1;
  while (*value == ' ')
    value++;
  int rc = cflight_call_options_add_header(call, key, value, err);
  if (rc != CFLIGHT_OK) return err_prefix(err, "--header %s", key);
  return CFLIGHT_OK;
}

static int login(conn *c, cflight_error *err) {
  const conn_opts *o = &c->opts;
  const char *token = o->token != NULL ? o->token : getenv("CFLIGHT_TOKEN");
  if (token != NULL && token[0] != '\0') {
    size_t n = strlen(token) + 8;
    char *v = malloc(n);
    if (v == NULL) return CF_NOMEM(err, "a header");
    snprintf(v, n, "Bearer %s", token);
    int rc = cflight_call_options_add_header(c->call, "authorization", v, err);
    free(v);
    if (rc != CFLIGHT_OK) return rc;
  }
  if (o->user == NULL) return CFLIGHT_OK;
  const char *password = o->password;
  if (password == NULL) password = getenv("CFLIGHT_PASSWORD");
  if (password == NULL) {
    c->password = prompt_password(o->user);
    password = c->password != NULL ? c->password : "";
  }
  if (o->handshake) {
    c->auth = cflight_client_auth_handler_new_basic(o->user, password);
    if (c->auth == NULL) return CF_NOMEM(err, "an auth handler");
    return cflight_client_authenticate(c->client, c->auth, c->call, err);
  }
  char *key = NULL, *value = NULL;
  int rc = cflight_client_authenticate_basic_token(c->client, o->user, password, c->call, &key,
                                                   &value, err);
  if (rc == CFLIGHT_OK && key != NULL && key[0] != '\0') {
    rc = cflight_call_options_add_header(c->call, key, value, err);
  }
  if (value != NULL) memset(value, 0, strlen(value));
  cflight_free(key);
  cflight_free(value);
  return rc;
}

int conn_open(const conn_opts *o, const char *uri, conn **out, cflight_error *err) {
  *out = NULL;
  conn *c = cf_calloc(1, sizeof(*c));
  if (c == NULL) return CF_NOMEM(err, "a connection");
  c->opts = *o;
  conn_normalize_uri(uri, c->uri, sizeof(c->uri));
  c->call = cflight_call_options_new();
  cflight_ipc_options *ipc = cflight_ipc_options_new();
  int rc = c->call != NULL && ipc != NULL ? CFLIGHT_OK : CF_NOMEM(err, "call options");
  if (rc == CFLIGHT_OK) {
    /* Received batches are rendered value by value: check them in full. */
    cflight_ipc_options_set_validate_full(ipc, true);
    rc = cflight_call_options_set_ipc_options(c->call, ipc, err);
  }
  cflight_ipc_options_free(ipc);
  if (rc == CFLIGHT_OK && o->timeout > 0) cflight_call_options_set_timeout(c->call, o->timeout);
  for (int i = 0; rc == CFLIGHT_OK && i < o->n_headers; i++) {
    rc = add_header_kv(c->call, o->headers[i], err);
  }
  if (rc == CFLIGHT_OK) rc = make_client(c, err);
  if (rc == CFLIGHT_OK) rc = login(c, err);
  if (rc != CFLIGHT_OK) {
    conn_close(c);
    return rc;
  }
  *out = c;
  return CFLIGHT_OK;
}

void conn_close(conn *c) {
  if (c == NULL) return;
  if (c->client != NULL) cflight_client_close(c->client);
  cflight_client_auth_handler_free(c->auth);
  cflight_call_options_free(c->call);
  if (c->password != NULL) {
    memset(c->password, 0, strlen(c->password));
    free(c->password);
  }
  free(c);
}

static bool contains_ci(const char *s, const char *word) {
  return strcasestr(s, word) != NULL;
}

int conn_report(const char *uri, const char *what, const cflight_error *err, const conn_opts *o) {
  const char *msg = err->message;
  char u[1024];
  conn_normalize_uri(uri, u, sizeof(u));
  bool tls = strncmp(u, "grpc+tls:", 9) == 0;
  switch (err->code) {
    case CFLIGHT_UNAVAILABLE:
      if (strncmp(msg, "failed to connect to", 20) == 0) {
        const char *reason = strrchr(msg, ':');
        reason = reason != NULL ? reason + 2 : msg;
        cli_errorf("cannot connect to %s: %s. Is `cflight serve` running there?", u, reason);
      } else if (tls && (contains_ci(msg, "TLS") || contains_ci(msg, "SSL") ||
                         contains_ci(msg, "certificate"))) {
        cli_errorf("%s: TLS with %s failed: %s. %s", what, u, msg,
                   o != NULL && o->tls_ca == NULL && !o->insecure
                       ? "Pass --tls-ca FILE to trust the server's CA (or --insecure for a test "
                         "server), or --tls-override-hostname NAME if the certificate names "
                         "another host"
                       : "Check --tls-ca, --tls-override-hostname, and whether the server "
                         "wants a client certificate (--tls-cert, --tls-key)");
      } else {
        cli_errorf("%s: %s is unavailable: %s", what, u, msg);
      }
      break;
    case CFLIGHT_UNAUTHENTICATED:
      cli_errorf("%s: authentication failed: %s. %s", what, msg,
                 o != NULL && (o->user != NULL || o->token != NULL)
                     ? "Check the user name and password (or the token)"
                     : "Log in with --user NAME (and --password or $CFLIGHT_PASSWORD), or "
                       "--token TOKEN");
      break;
    case CFLIGHT_PERMISSION_DENIED:
      cli_errorf("%s: permission denied: %s", what, msg);
      break;
    case CFLIGHT_DEADLINE_EXCEEDED:
      if (o != NULL && o->timeout > 0) {
        cli_errorf("%s: timed out after %gs (--timeout): %s", what, o->timeout, msg);
      } else {
        cli_errorf("%s: timed out: %s", what, msg);
      }
      break;
    case CFLIGHT_UNIMPLEMENTED:
      cli_errorf("%s: the server does not support this: %s", what, msg);
      break;
    default:
      cli_errorf("%s: %s", what, msg);
      break;
  }
  return CLI_EXIT_FAILURE;
}

int conn_descriptor(const char *path, const char *cmd, cflight_descriptor **out,
                    cflight_error *err) {
  if (cmd != NULL) return cflight_descriptor_new_command(cmd, strlen(cmd), out, err);
  const char *parts[64];
  char *copy = strdup(path);
  if (copy == NULL) return CF_NOMEM(err, "a path");
  size_t n = 0;
  char *save = NULL;
  for (char *p = strtok_r(copy, "/", &save); p != NULL && n < 64; p = strtok_r(NULL, "/", &save)) {
    parts[n++] = p;
  }
  int rc = cflight_descriptor_new_path(parts, n, out, err);
  free(copy);
  return rc;
}

const char *conn_describe_descriptor(const cflight_descriptor *d, char *buf, size_t cap) {
  if (d == NULL) {
    snprintf(buf, cap, "(none)");
  } else if (cflight_descriptor_get_type(d) == CFLIGHT_DESCRIPTOR_CMD) {
    size_t n;
    const uint8_t *cmd = cflight_descriptor_command(d, &n);
    if (utf8_valid(cmd, n) && memchr(cmd, '\0', n) == NULL) {
      snprintf(buf, cap, "cmd '%.*s'", (int)(n > 200 ? 200 : n),
               cmd != NULL ? (const char *)cmd : "");
    } else {
      sbuf b;
      sb_init(&b);
      sb_hex(&b, cmd, n > 100 ? 100 : n);
      snprintf(buf, cap, "cmd 0x%s", sb_str(&b));
      sb_free(&b);
    }
  } else {
    size_t o = 0;
    o += (size_t)snprintf(buf, cap, "path ");
    for (size_t i = 0; i < cflight_descriptor_path_count(d) && o < cap; i++) {
      o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? "/" : "",
                            cflight_descriptor_path_part(d, i));
    }
  }
  return buf;
}
