/* The data directory of `cflight serve`: one Arrow IPC file per dataset.
 *
 * A dataset is named by path parts ["sales", "2024"], written "sales/2024"
 * and stored as DIR/sales/2024.arrow. Parts may not be empty, ".", "..",
 * contain '/' or control characters, or start with '.' (hidden names are
 * the store's own: temporary files and the lock file).
 *
 * Uploads are atomic and durable: the data goes to a hidden temporary file
 * beside the target (.cflight-tmp-*), which is fsynced, renamed over the
 * target and the directory fsynced, only once the upload completed; an
 * aborted upload removes its file, and leftovers of a crash are removed
 * when the store is opened. Readers map the file they opened, so they keep
 * reading that version while it is replaced, renamed or dropped.
 *
 * Thread-safe: handlers on many threads use one store. */
#ifndef CLI_STORE_H
#define CLI_STORE_H

#include "util.h"

#define STORE_TMP_PREFIX ".cflight-tmp-"
#define STORE_LOCK_NAME ".cflight.lock"
#define STORE_MAX_NAME 1024

typedef struct store store;

/* Opens (creating it unless read_only) the data directory. Takes an
 * exclusive lock unless read_only, so that two servers do not write one
 * directory, then removes leftover temporary files (*removed says how
 * many). Errors say what to do: a directory that is not writable, in use
 * by another server, or not a directory. */
int store_open(const char *dir, bool read_only, store **out, int *removed, cflight_error *err);
/* Closes the store; uploads still in progress are discarded. */
void store_close(store *s);

/* The absolute path of the directory. */
const char *store_dir(const store *s);
bool store_read_only(const store *s);

/* ---- Names ------------------------------------------------------------------------ */

/* Checks path parts and writes the dataset name ("a/b") into name (at most
 * STORE_MAX_NAME bytes). CFLIGHT_INVALID_ARGUMENT says which part is wrong. */
int store_name_from_parts(const char *const *parts, size_t n_parts, char *name, cflight_error *err);
/* The same for a name written as text ("a/b"; tickets and action bodies). */
int store_name_from_text(const char *text, size_t len, char *name, cflight_error *err);

/* ---- Reading ------------------------------------------------------------------------ */

typedef struct ds_info {
  char name[STORE_MAX_NAME];
  int64_t rows;           /* total records */
  int64_t bytes;          /* Flight's total_bytes: the batches' buffer sizes */
  int64_t file_size;      /* bytes on disk */
  int64_t mtime_ns;       /* last modification */
  cflight_buffer *schema; /* the schema's IPC bytes (a reference owned by the info) */
} ds_info;

void ds_info_reset(ds_info *info);

/* Facts about a dataset (cached by file identity, so cheap when the file
 * did not change). CFLIGHT_NOT_FOUND when there is none of that name;
 * CFLIGHT_INVALID_DATA when the file is not readable Arrow IPC. */
int store_stat(store *s, const char *name, ds_info *out, cflight_error *err);

/* The names of the datasets whose name starts with prefix (NULL or "":
 * all), sorted. *names is a malloc'd array of malloc'd strings; free with
 * store_names_free. */
int store_list(store *s, const char *prefix, char ***names, size_t *n, cflight_error *err);
void store_names_free(char **names, size_t n);

/* Opens a dataset's batches, memory-mapped (zero-copy) and validated in
 * full (the file may come from anywhere). */
int store_open_stream(store *s, const char *name, struct ArrowArrayStream *out, cflight_error *err);

/* ---- Writing --------------------------------------------------------------------------- */

typedef struct store_upload store_upload;

/* Starts writing dataset `name`: creates the directories it needs and the
 * temporary file. CFLIGHT_PERMISSION_DENIED on a read-only store. */
int store_upload_begin(store *s, const char *name, store_upload **out, cflight_error *err);
/* The temporary file's descriptor (owned by the upload). */
int store_upload_fd(const store_upload *u);
/* Makes the upload the dataset (fsync, rename, directory fsync) and frees u
 * (on failure too, after removing the temporary file). */
int store_upload_commit(store_upload *u, cflight_error *err);
/* Removes the temporary file and frees u. */
void store_upload_abort(store_upload *u);
/* Removes the temporary file of every upload in progress (at a forced
 * exit); the uploads themselves are left to their owners. */
void store_abort_all(store *s);

int store_drop(store *s, const char *name, cflight_error *err);
/* Renames a dataset; CFLIGHT_ALREADY_EXISTS when `to` exists and !replace. */
int store_rename(store *s, const char *from, const char *to, bool replace, cflight_error *err);

#endif /* CLI_STORE_H */
