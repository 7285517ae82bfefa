/* tools/cli.h - what the files of the llmcache command-line tool share.
 * tools/llmcache.c holds the commands (and the library implementation),
 * tools/cli_util.c messages, files, sizes, durations and the progress bar,
 * tools/cli_jsonl.c the JSON Lines entry format of export, import and ls --json,
 * tools/cli_stats.c the accounting export of stats (--prometheus, --prices). */
#ifndef LLMCACHE_CLI_H
#define LLMCACHE_CLI_H

#include <stdio.h>
#include "llmcache.h"

/* Exit statuses besides 0 (documented in `llmcache --help`). */
enum { CLI_EXIT_NOTCLEAN = 1, CLI_EXIT_FAIL = 2, CLI_EXIT_BUSY = 3 };

/* >>messages (cli_util.c) */
extern const char *cli_cmd;                     /* the running command, named in messages */
void cli_error(const char *fmt, ...);            /* "llmcache CMD: ..." and a newline, on stderr */
const char *cli_result(int rc);                  /* llmcache_result_string without the code name */

/* >>files (cli_util.c) */
/* Reads a whole file (NULL or "-" = stdin) into a NUL-terminated malloc'd buffer.
 * Input longer than max bytes is refused as soon as it passes max (named in the
 * message as limit_name). Returns 0, or -1 after reporting the error. */
int cli_read_all(const char *path, char **out, size_t *len, size_t max, const char *limit_name);

/* An output that appears whole or not at all: a temporary file beside path,
 * renamed over path by cli_output_commit. path NULL or "-" is stdout. */
typedef struct cli_output { FILE *f; const char *path; char *tmp; } cli_output;
int  cli_output_open(cli_output *o, const char *path);  /* 0, or -1 reported */
int  cli_output_commit(cli_output *o);                  /* 0, or -1 reported (temp removed) */
void cli_output_abort(cli_output *o);                   /* removes the temporary file */

/* cfg.mode from LLMCACHE_MODE, as every tool reads it (unset = normal); 0, or -1
 * reported for an unknown mode (cli_util.c). */
int cli_env_mode(int *mode);

/* >>numbers for people (cli_util.c) */
int64_t cli_now_ms(void);
void cli_format_size(uint64_t bytes, char out[32]);      /* "512 B", "1.2 MiB" */
void cli_format_duration(int64_t ms, char out[32]);      /* "500ms", "45s", "3h", "2d 4h" (rounded) */
void cli_format_time(int64_t ms, char out[32]);          /* "2024-05-01 12:34:56Z" (UTC) */
int  cli_parse_duration(const char *s, int64_t *ms);     /* "1h", "30m", "1h30m", "500ms", "2d"; 0 or -1 */

/* >>progress (cli_util.c): a bar on stderr, drawn only when stderr is a terminal
 * and total is large. Without cli_progress_add it shows the label and size only. */
typedef struct cli_progress { const char *label; uint64_t total, done; int on, last; } cli_progress;
void cli_progress_start(cli_progress *p, const char *label, uint64_t total);
void cli_progress_add(cli_progress *p, uint64_t n);
void cli_progress_end(cli_progress *p);

/* >>JSON Lines entries (cli_jsonl.c)
 * {"key":"<hex>","value":<JSON>|"value_b64":"<base64>","created_ms":N,"expires_ms":N,
 *  "meta":{"schema_hash":"<hex>","status":N,"flags":N,"latency_ms":N,
 *          "prompt_tokens":N,"completion_tokens":N}}
 * "value" holds the value's bytes verbatim when they are one line of I-JSON text
 * without surrounding whitespace, so reading back the member's raw text gives the
 * exact bytes; any other value is "value_b64". */
/* A call answer (an entry with LLMCACHE_META_ENVELOPE) in the export --sorted form
 * has "envelope" instead of "value": {"status":N,"request":<JSON>,"model":<JSON>,
 * then "events":[{"at_ms":N,"data":"<event text>"},...] for a stream, else "body":<JSON>
 * (one line of JSON), "body_text":"<text>" (other UTF-8, pretty-printed JSON) or
 * "body_b64":"<base64>"}; import encodes it back to the same bytes. */
/* Writes one line. with_value 1: the export form; 2: the export --sorted form (call
 * answers as "envelope" where they can be); 0: the ls --json form, which has "size"
 * and "seq" instead of the value. */
void cli_write_entry(FILE *f, const llmcache_entry_info *e, int with_value);

/* Parses one export line into *e. e->data points into line (a "value") or to a
 * malloc'd *owned (a "value_b64"; free it). Returns 0, or -1 with *err set and
 * *err_at the offset in line where reading stopped. */
int cli_parse_entry(const char *line, size_t len, llmcache_entry_info *e, char **owned,
                    const char **err, size_t *err_at);

/* s, a UTF-8 message such as a verify reason, as a JSON string with its quotes. */
void cli_write_json_string(FILE *f, const char *s);

/* >>stats accounting (cli_stats.c) */
/* Reads a price table (llmcache_prices_parse's JSON) from path into *out (release
 * with llmcache_free). Returns 0, or -1 after reporting the error. */
int cli_load_prices(const char *path, llmcache_prices **out);
/* Writes the stored-entries export of c (format: LLMCACHE_STATS_JSON or
 * _PROMETHEUS) to f, without its last newline when strip_newline. 0, or -1 reported. */
int cli_stats_export(llmcache *c, const char *path, int format, FILE *f, int strip_newline);
/* llmcache_stats_write(c, format) into *out (malloc'd, NUL-terminated; NULL after an
 * error) of *len bytes; returns its result. */
int cli_stats_text(llmcache *c, int format, char **out, size_t *len);
/* >>record and replay (cli_replay.c); each returns the exit status. */
/* explain: the canonical request (after the ignore pointers, NULL-terminated), the
 * parts of its key, the key, and with cache_path whether it is there (1 if not);
 * near: the three stored requests of the same namespace, endpoint and schema that
 * differ least, each with a JSON diff. */
int cli_explain(const char *request_path, const char *cache_path, const char *ns, const char *endpoint,
                const char *schema_path, const char *const *ignore, int near);
/* diff: entries only in A, only in B, and with another answer (1 when any). A and B
 * are cache files or JSON Lines exports. */
int cli_diff(const char *a_path, const char *b_path);

/* 64 hex digits into 32 bytes (keys and schema hashes); 0 or -1. And back. */
int  cli_parse_hash(const char *hex, size_t len, unsigned char out[32]);
void cli_hash_hex(const unsigned char hash[32], char out[65]);

/* >>batch (cli_jsonl.c, cli_batch.c) */
/* One line of a batch file: either a request body, or an object with "custom_id"
 * and "body" (OpenAI's batch input format; "method", "url" and the rest ignored). */
typedef struct cli_batch_line { const char *id; size_t id_len; const char *body; size_t body_len; } cli_batch_line;
/* Points *out into line (id NULL when there is none). 0, or -1 with *err and *err_at. */
int cli_parse_batch_line(const char *line, size_t len, cli_batch_line *out, const char **err, size_t *err_at);
/* `llmcache batch`: the requests of input (a file, or "-" for stdin) through c against
 * endpoint with the bundled libcurl transport; results as JSON Lines to out (NULL =
 * stdout). concurrency NULL = the default. Returns the exit status. */
int cli_batch_run(llmcache *c, const char *input, const char *endpoint, const char *concurrency, const char *out);
/* >>transforms (cli_xform.c): values transformed at rest (examples/transform_*.c) */
/* Loads the transform the options name (zstd: --zstd; dict_path: --zstd-dict;
 * key_path: --key-file; all 0/NULL: none). 0, or -1 reported. */
int  cli_xform_setup(int zstd, const char *dict_path, const char *key_path);
const llmcache_transform *cli_xform_get(void);  /* what cli_open gives the cache; NULL = none */
void cli_xform_end(void);                       /* releases it */
const char *cli_xform_hint(int rc);             /* " (give ...)" after an ETRANSFORM/ECORRUPT message, else "" */
/* After a read: values the cache could not decode are said so on stderr, and the
 * status becomes CLI_EXIT_NOTCLEAN; else 0. */
int  cli_xform_status(const llmcache_stats *st, const char *path);
/* train-dict: a zstd dictionary from the values of c into out_path; the exit status. */
int  cli_train_dict(llmcache *c, const char *path, const char *out_path);
/* >>serve (cli_serve.c): `llmcache serve ARGS...`, the caching proxy; the exit status. */
int cli_serve_main(int argc, char **argv);

#endif
