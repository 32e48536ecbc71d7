/*
 * internal.h - shared definitions of the transform language: tokens, the
 * syntax tree, static types, values at run time, and the entry points that
 * the lexer, parser, checker, evaluator, casts and functions offer each
 * other.  Nothing here is part of the public API (see
 * include/consolidate/transform.h).
 *
 * Life of a transform file:
 *   lexer.c    text -> tokens (comments, continuation lines)
 *   parser.c   tokens -> sections and syntax trees
 *   check.c    static types, implicit casts, functions resolved, every
 *              compile-time error collected with file:line:column
 *   bind.c     a [from] section + the source's real columns -> program
 *   eval.c     operators; running a program over a chunk
 *   types.c    parsing, formatting and casting values
 *   decimal.c  exact numeric arithmetic on decimal text
 *   datetime.c calendar arithmetic, time zones, to_date/to_timestamp
 *   functions.c the function table
 *   print.c    canonical re-printing of expressions (explain)
 *   share.c    subexpressions that a section computes more than once per
 *              row, found at load and evaluated once per row
 */
#ifndef CNS_TRANSFORM_INTERNAL_H
#define CNS_TRANSFORM_INTERNAL_H

#include "consolidate/transform.h"

#include <locale.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consolidate/util.h"

/* ---- diagnostics collected while compiling ---- */

struct diag {
	int line, col, len; /* col and len in characters, 1-based col */
	char *msg;
	char *hint; /* or NULL */
	int seq;    /* order of discovery, to keep the sort stable */
};

struct diags {
	const char *file; /* name used in messages */
	const char *text; /* whole file, for the caret lines */
	size_t textlen;
	struct diag *v;
	int n, cap;
};

void xf_diag_add(struct diags *d, int line, int col, int len, const char *hint,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Sorts the diagnostics by position and fills err: message = the first,
 * hint = its hint, file:line:column, detail = all of them with caret
 * lines.  Returns -1. */
int xf_diag_report(struct diags *d, struct cns_error *err);
void xf_diag_release(struct diags *d);
/* Formats one diagnostic with its source line and caret line. */
void xf_diag_format(const struct diags *d, const struct diag *g,
		    struct cns_buf *b);
/* The closest of n candidates to name (edit distance small enough to be a
 * plausible typo), or NULL. */
const char *xf_closest_name(const char *name, const char *const *cands, int n);

/* ---- tokens ---- */

enum tok {
	T_EOF,
	T_NL,     /* end of an entry (a line not continued by indentation) */
	T_IDENT,  /* bare name, folded to lower case */
	T_QIDENT, /* "Quoted Name", exact */
	T_STRING, /* 'text' with '' folded */
	T_INT,    /* digits only */
	T_NUM,    /* digits with a point or an exponent */
	T_LPAREN,
	T_RPAREN,
	T_COMMA,
	T_LBRACK,
	T_RBRACK,
	T_EQ,
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_PLUS,
	T_MINUS,
	T_STAR,
	T_SLASH,
	T_PERCENT,
	T_CONCAT, /* || */
	T_CAST,   /* :: */
	T_COLON,
	T_DOT,
	T_ERROR /* text holds the message */
};

struct token {
	enum tok k;
	int line, col, len; /* position in characters */
	size_t off, end;    /* byte range in the file */
	const char *text;   /* decoded text, NUL-terminated, in the arena */
	size_t n;           /* its length in bytes */
};

struct tokens {
	struct token *v;
	int n;
};

/* Splits the file into tokens.  Strings live in arena.  Never fails: bad
 * input becomes T_ERROR tokens that the parser reports. */
void xf_lex_file(const char *text, size_t len, struct cns_arena *arena,
		 struct tokens *out);
const char *xf_tok_name(enum tok k);

/* ---- static types ---- */

struct xtype {
	enum cns_type t;
	int p, s;     /* varchar n, numeric precision and scale; 0 = unset */
	bool untyped; /* t is CNS_T_TEXT but the value is raw source text or
			 a string literal: it takes the type its context
			 asks for, as PostgreSQL's "unknown" literals do */
};

/* How a value of a type is held while a row is evaluated. */
enum rep {
	REP_STR,
	REP_INT,
	REP_DBL
};

enum rep xf_type_rep(enum cns_type t);
bool xf_type_is_int(enum cns_type t);
bool xf_type_is_number(enum cns_type t);    /* int, numeric, real, double */
bool xf_type_is_stringish(enum cns_type t); /* text, varchar */
/* "numeric(18,4)", "varchar(20)", "timestamptz" ... into buf. */
const char *xf_xtype_name(struct xtype ty, char *buf, size_t size);
static inline struct xtype xt(enum cns_type t)
{
	struct xtype ty = { t, 0, 0, false };
	return ty;
}
extern const struct xtype XT_UNTYPED, XT_NULL;

/* Parses a type name at tokens v[*i...]; on success advances *i.  On an
 * unknown type name returns -1 with a message in *msg (arena) and the name
 * in *bad. */
int xf_parse_type_name(const struct token *v, int n, int *i, struct xtype *out,
		       char **sql, struct cns_arena *arena, const char **msg,
		       const char **hint);

/* Whether a value of type `from` can ever be cast to `to`. */
bool xf_cast_possible(struct xtype from, struct xtype to);

/* ---- values at run time ---- */

struct xval {
	const char *s; /* REP_STR: bytes (not NUL-terminated in general) */
	uint32_t n;
	bool null;
	int64_t i; /* REP_INT: integers, booleans (0/1), dates (days since
		      1970-01-01), times (microseconds since midnight),
		      timestamps (microseconds since 1970-01-01, UTC for
		      timestamptz, local wall time for timestamp) */
	double d;  /* REP_DBL */
};

struct tzinfo;
struct cns_program;
struct node;

/* Evaluation context of one row. */
struct ectx {
	struct cns_program *p;
	const struct cns_cell *row;
	int64_t rownum;
	struct cns_arena *scratch; /* reset before each row */
	const struct tzinfo *tz;   /* the session zone of the program */
	const char *reason;        /* why the row failed, when -1 is returned */
};

typedef int (*eval_fn)(const struct node *n, struct ectx *c, struct xval *out);

/* Sets c->reason (formatted in the scratch arena) and returns -1. */
int xf_ev_fail(struct ectx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A value quoted for a message: at most 60 characters, then "...". */
const char *xf_ev_quote(struct ectx *c, const char *s, size_t n);

/* ---- syntax tree ---- */

enum nkind {
	N_LIT,    /* literal: lit, ty */
	N_COL,    /* column reference: name, quoted, slot */
	N_FUNC,   /* function call: fn, args */
	N_CAST,   /* args[0] cast to ty */
	N_ARITH,  /* op: + - * / % on args[0], args[1] */
	N_NEG,    /* unary minus */
	N_CONCAT, /* || */
	N_CMP,    /* op: = <> < <= > >= */
	N_AND,
	N_OR,
	N_NOT,
	N_ISNULL,  /* neg: is not null */
	N_IN,      /* args[0] in (args[1..]); neg: not in */
	N_BETWEEN, /* args[0] between args[1] and args[2]; neg */
	N_LIKE,    /* args[0] like args[1]; neg; op 1 = ilike */
	N_CASE,    /* args: [operand] when/then pairs [else]; see fields */
	N_DISTINCT /* is [not] distinct from; neg = is not distinct */
};

/* Comparison flavours chosen by the checker. */
enum cmpkind {
	CMP_INT,
	CMP_DBL,
	CMP_NUM,
	CMP_TEXT
};

struct func;

struct node {
	enum nkind kind;
	int op;             /* T_PLUS ... for N_ARITH, T_EQ ... for N_CMP */
	bool neg;           /* not in / not like / not between / is not null */
	int line, col, len; /* position of the operator or name, for carets */
	int nargs;
	struct node **args;
	struct xtype ty; /* result type, set by the checker */
	eval_fn eval;    /* set by the checker */
	/* N_LIT */
	struct xval lit;
	const char *text; /* literal as written; column and function name */
	bool quoted;      /* N_COL: "Quoted" name, matched exactly */
	int slot;         /* N_COL: index into the section's references;
			     regex functions: index into program regexes */
	const struct func *fn;
	/* N_CASE */
	bool has_operand, has_else;
	/* N_CAST */
	bool implicit; /* inserted by the checker; not printed */
	enum cmpkind cmp;
	void *aux;         /* per-function data prepared at compile time */
	struct node *orig; /* a folded constant: the literal as written */
	/* Common subexpressions (share.c): share is the node's slot + 1 in
	 * the program's table of values kept for the row, 0 when the node
	 * is computed at each use; then eval is xf_eval_shared and inner
	 * the node's own evaluator.  uses is scratch of the sharing pass. */
	int share;
	eval_fn inner;
	int uses;
};

struct node *xf_node_new(struct cns_arena *a, enum nkind k,
			 const struct token *at);

/* ---- functions ---- */

struct checker;

struct func {
	const char *name;
	int min_args, max_args; /* max_args -1: any number */
	/* Types the arguments (inserting casts), sets n->ty and n->eval;
	 * reports problems through the checker.  */
	void (*check)(struct checker *ck, struct node *n);
	/* A new value at each call for the same row (a random number, a
	 * sequence): never computed once for several uses (share.c).  No
	 * built-in function is. */
	bool per_call;
};

const struct func *xf_func_find(const char *name);
/* Function names by index, for suggestions. */
int xf_func_count(void);
const char *xf_func_name_at(int i);

/* A literal regular expression, validated at load and compiled by every
 * program at bind time (regexec on one regex_t is serialised inside
 * glibc, so threads do not share them). */
struct rxinfo {
	char *pattern; /* NUL-terminated */
	int cflags;
	bool global;
	/* A pattern that is one bracket expression of ASCII characters and
	 * ranges, alone or with "+" ("[^A-Za-z0-9]+"): matched by a byte
	 * table instead of glibc, whose multibyte matcher decodes the rest
	 * of the subject again at every match.  set: the characters listed;
	 * a character other than ASCII is never among them. */
	bool setrun;
	bool negate; /* [^...] */
	bool plus;   /* a run of one or more, not one character */
	unsigned char set[128];
	/* Any other pattern that xf_rxnfa_compile takes, for ASCII
	 * subjects; NULL when glibc matches it. */
	const struct rxnfa *nfa;
};

#define RXNFA_DFA_STATES 32
/* A bit-parallel NFA for a sequence of single-character atoms with
 * quantifiers (rxnfa.c): bit i is atom i. */
struct rxnfa {
	uint64_t cls[128]; /* per ASCII byte: the atoms that match it */
	uint64_t first;    /* the atoms that may consume a match's first
			      byte */
	uint64_t loop;     /* atoms that may repeat (*, +) */
	uint64_t nullable; /* atoms that may be absent (*, ?) */
	uint64_t final;    /* atoms after which a match may end */
	uint64_t all;
	bool bol, eol; /* anchored by ^, by $ */
	bool empty;    /* the pattern matches the empty string */
	/* The same automaton as a DFA over sets of ready atoms, when it has
	 * at most RXNFA_DFA_STATES of them: dfa[state][byte] is the next
	 * state, plus 0x80 when a match ends on that byte; state 0 is
	 * dead, state 1 the start.  ndfa 0: no DFA. */
	int ndfa;
	uint64_t dfa_ready[RXNFA_DFA_STATES];
	uint8_t dfa[RXNFA_DFA_STATES][128];
};
/* Compiles pattern for regcomp flags cflags into *x: false when it is
 * not a pattern that the NFA takes (then glibc must match it). */
bool xf_rxnfa_compile(struct rxnfa *x, const char *pattern, int cflags);
/* The first match in the ASCII subject s[from..n), as regexec() in the
 * C locale finds it with REG_STARTEND (and REG_NOTBOL when notbol):
 * 1 and [*so, *eo), or 0 when there is none. */
int xf_rxnfa_exec(const struct rxnfa *x, const char *s, size_t from, size_t n,
		  bool notbol, size_t *so, size_t *eo);

/* regcomp() under the UTF-8 locale. */
int xf_regcomp(regex_t *re, const char *pattern, int cflags);
/* True when s[0..n) is pure ASCII. */
bool xf_is_ascii(const char *s, size_t n);

/* ---- the compiled file ---- */

struct lookup {
	char *name;
	char *path;
	int line;
	bool broken; /* an entry of the section had an error */
	/* open addressing hash: key -> value, both NUL-terminated */
	char **keys, **vals;
	uint32_t *klen, *vlen;
	size_t cap, count;
};
/* Finds key; returns the value or NULL. */
const char *xf_lookup_get(const struct lookup *l, const char *key, size_t n,
			  uint32_t *vlen);

struct rule {
	struct node *expr;
	struct node *msg; /* reject_if message, or NULL */
	int line;
	char *text; /* the rule re-printed, for reasons and explain */
};

/* A mapping as parsed, before the checker files it under its schema
 * column. */
struct maplist {
	const char *target;
	bool quoted;
	int line, col, len;
	struct node *expr;
	struct maplist *next;
};

struct section {
	struct maplist *pending; /* mappings in file order */
	char *name; /* source name, NULL for the implicit section */
	int line, col;
	struct node **map;  /* per schema column: expression or NULL */
	struct node **out;  /* per schema column: final value node, already
			      cast to the column type; NULL = NULL */
	bool *from_default; /* out[i] is the schema default */
	struct rule *where;
	int nwhere;
	struct rule *rejects;
	int nrejects;
	/* distinct column references, in order of first use */
	char **refs;
	bool *ref_quoted;
	struct node **ref_at; /* first use, for messages */
	int nrefs, capref;
	bool implicit; /* the section of sources without [from] */
	bool broken;   /* an entry had a syntax error: skip checks that
			  would only repeat it */
};

struct cns_transform {
	char *file; /* name for messages */
	char *dir;  /* directory of the file, for lookup paths */
	char *text; /* the whole file, for caret lines at bind time */
	size_t textlen;
	struct cns_arena arena; /* trees, names, literal strings */
	int64_t run_start_us;
	struct cns_schema schema;
	struct node **defaults; /* per schema column, or NULL */
	struct section *sections;
	int nsections;
	struct section implicit;
	struct lookup *lookups;
	int nlookups;
	/* regex patterns that every program compiles, by slot */
	struct node **regex_nodes;
	int nregex, capregex;
	bool schema_broken; /* a [schema] entry had a syntax error */
	/* nodes computed once per row, by slot (share.c) */
	struct node **shared_nodes;
	int nshared, capshared;
};

/* The value of a shared node for the row numbered gen (see share.c). */
struct shared_val {
	uint64_t gen;
	int rc;             /* what the node's evaluator returned */
	struct xval v;      /* rc 0: the value (strings in the row's
			       scratch, the row or the transform) */
	const char *reason; /* rc -1: why the node failed */
};

struct cns_program {
	const struct cns_transform *t;
	const struct section *sec;
	char *source;
	int ncols;
	char **colnames;
	int *colmap; /* per section reference: input column or -1 */
	regex_t *regex;
	int nregex;
	/* The same patterns compiled in the C locale, for subjects that are
	 * pure ASCII: glibc's multibyte matcher costs several times the
	 * byte matcher and gives the same result there.  ascii_ok[i] is
	 * false when pattern i is not ASCII itself (then only regex[i] is
	 * used). */
	regex_t *regex_ascii;
	bool *ascii_ok;
	struct node **out; /* per schema column, see section.out */
	int *trusted;      /* per schema column: the input column copied as
			      it is (see cns_program_trust_types), or -1 */
	enum cns_type *coltypes; /* per input column: the type its driver
				    reports, CNS_T_UNKNOWN when none (see
				    cns_program_set_column_types); or NULL */
	struct cns_arena scratch;
	struct cns_buf work; /* reused by functions that build a string */
	struct tzinfo *tz;   /* owned; NULL means UTC */
	/* Per shared node (t->nshared), its value for the row; row_gen
	 * counts the rows run, so that a value of an earlier row (of this
	 * chunk or an earlier one) is never taken for the current one.
	 * shared_computed and shared_reused count the evaluations that the
	 * slots did and saved, for tests. */
	struct shared_val *shared;
	uint64_t row_gen;
	int64_t shared_computed, shared_reused;
};

/* ---- parser and checker ---- */

/* Parses the file into t (schema, sections, lookups).  Errors go to d. */
void xf_parse_file(struct cns_transform *t, const char *text, size_t len,
		   struct diags *d);
/* Parses one expression from tokens v[*i] up to the end of the entry. */
struct node *xf_parse_expr_tokens(const struct token *v, int n, int *i,
				  struct cns_arena *a, struct diags *d);

struct checker {
	struct cns_transform *t;
	struct section *sec; /* NULL while checking schema defaults */
	struct diags *d;
	struct cns_arena *arena;
	bool no_columns; /* inside a default: column references refused */
};

void xf_check_report(struct checker *ck, const struct node *at,
		     const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Types n->args[from..]. */
void xf_check_args(struct checker *ck, struct node *n, int from);
/* Types n and its children; returns n or the node that replaces it. */
struct node *xf_check_expr(struct checker *ck, struct node *n);
/* Wraps *np in a cast to ty when its type differs (reports a cast that can
 * never succeed at the node). */
void xf_coerce(struct checker *ck, struct node **np, struct xtype ty);
/* Coerces to text (any value can become text). */
void xf_coerce_text(struct checker *ck, struct node **np);
/* The type that a and b meet in (CASE, coalesce, IN, comparisons);
 * false when there is none. */
bool xf_common_type(struct xtype a, struct xtype b, struct xtype *out);
/* Checks the whole transform after parsing. */
void xf_check_transform(struct cns_transform *t, struct diags *d);
void xf_check_register_regex(struct checker *ck, struct node *n);

/* ---- evaluation ---- */

void xf_eval_set_node(struct node *n); /* picks n->eval for operators */
/* The evaluator of a shared node: its value of the row if it has one,
 * else n->inner's, kept for the rest of the row. */
int xf_eval_shared(const struct node *n, struct ectx *c, struct xval *out);
/* Finds the common subexpressions of a checked transform (share.c). */
void xf_share_transform(struct cns_transform *t);
int xf_eval_bool(const struct node *n, struct ectx *c, int *truth);
int xf_eval_lit(const struct node *n, struct ectx *c, struct xval *out);
int xf_eval_col(const struct node *n, struct ectx *c, struct xval *out);
int xf_eval_cast(const struct node *n, struct ectx *c, struct xval *out);

/* ---- casts and text forms (types.c) ---- */

/* Converts v of type `from` to type `to`.  Strings of the result live in
 * the scratch arena or point into v. */
int xf_cast_value(struct ectx *c, const struct xval *v, struct xtype from,
		  struct xtype to, struct xval *out);
/* The text form of v (PostgreSQL's input format) in (*s, *n); uses buf
 * (at least 64 bytes) or the scratch arena. */
int xf_value_text(struct ectx *c, const struct xval *v, struct xtype ty,
		  char *buf, const char **s, uint32_t *n);
/* Compares two non-null values of the same comparison kind. */
int xf_compare_values(enum cmpkind k, const struct xval *a,
		      const struct xval *b);
/* Parses text into a value of type ty (validating it). */
int xf_parse_value(struct ectx *c, const char *s, size_t n, struct xtype ty,
		   struct xval *out);

/* Checks UTF-8 and the absence of zero bytes; reason on failure. */
int xf_check_text(struct ectx *c, const char *s, size_t n);
/* Number of UTF-8 characters (an invalid byte counts as one). */
size_t xf_utf8_len(const char *s, size_t n);
/* Byte length of the UTF-8 sequence starting at s (1 for a bad byte). */
size_t xf_utf8_step(const char *s, size_t n);
/* Decodes one character; returns its length. */
size_t xf_utf8_decode(const char *s, size_t n, uint32_t *cp);
size_t xf_utf8_encode(uint32_t cp, char *out);

/* Shortest text of d that reads back exactly ("NaN", "Infinity" too);
 * buf at least 40 bytes; returns the length. */
int xf_double_text(double d, bool real, char *buf);
/* A UTF-8 LC_CTYPE locale created once (C.UTF-8), or (locale_t)0 when the
 * system has none; for uselocale() around regcomp/regexec so that
 * patterns work on characters, whatever the process locale is. */
locale_t xf_utf8_locale(void);
/* strtod in the C locale, whatever the process locale is. */
double xf_text_to_double_c(const char *buf);

/* ---- exact decimals (decimal.c): canonical text "-12.340" ---- */

#define DEC_MAX_DIGITS 1000 /* digits of an arithmetic operand or result */
/* What PostgreSQL 15's numeric input takes (numeric.c): an exponent of
 * less than half the range of int32, then a value of at most 131072
 * digits before the point (a weight of 32767 base-10000 digits) and 16383
 * after it.  Text within these is a value, even one too long for the
 * transform's arithmetic. */
#define DEC_IN_MAX_EXPONENT (INT32_MAX / 2 - 1)
#define DEC_IN_MAX_INT_DIGITS 131072
#define DEC_IN_MAX_SCALE 16383
/* What xf_dec_special() tells of a numeric's text. */
enum {
	DEC_FINITE,
	DEC_NAN,
	DEC_PINF,
	DEC_NINF
};
int xf_dec_special(const char *s, size_t n);
#define DEC_DIV_SCALE 16 /* minimum scale of a quotient */

/* Parses decimal text (spaces, sign, digits, point, exponent) into
 * canonical form; returns -1 when it is not a number or too long.  Text
 * that is canonical already is returned as it is (*out == s), so s must
 * live as long as the result. */
int xf_dec_parse(struct cns_arena *a, const char *s, size_t n, const char **out,
		 uint32_t *outn);
int xf_dec_cmp(const char *a, size_t an, const char *b, size_t bn);
/* -x of canonical text, exact at any length (a sign flip). */
int xf_dec_neg(struct cns_arena *a, const char *x, size_t n, const char **out,
	       uint32_t *outn);
/* Arithmetic; -1 when the result would exceed DEC_MAX_DIGITS (or for
 * division by zero, which callers check first). */
int xf_dec_add(struct cns_arena *a, const char *x, size_t xn, const char *y,
	       size_t yn, bool sub, const char **out, uint32_t *outn);
int xf_dec_mul(struct cns_arena *a, const char *x, size_t xn, const char *y,
	       size_t yn, const char **out, uint32_t *outn);
int xf_dec_div(struct cns_arena *a, const char *x, size_t xn, const char *y,
	       size_t yn, int scale, const char **out, uint32_t *outn);
/* Remainder with the sign of x, like PostgreSQL's numeric %. */
int xf_dec_mod(struct cns_arena *a, const char *x, size_t xn, const char *y,
	       size_t yn, const char **out, uint32_t *outn);
/* Rounds half away from zero to `scale` digits after the point (a
 * negative scale rounds to tens, hundreds...); the result has exactly
 * max(scale, 0) decimals. */
void xf_dec_round(struct cns_arena *a, const char *x, size_t xn, int scale,
		  const char **out, uint32_t *outn);
/* mode: 'f' floor, 'c' ceil, 't' truncate; to an integer. */
void xf_dec_integral(struct cns_arena *a, const char *x, size_t xn, int mode,
		     const char **out, uint32_t *outn);
int xf_dec_scale(const char *x, size_t xn);  /* digits after the point */
int xf_dec_intlen(const char *x, size_t xn); /* digits before (0 for "0.x") */
bool xf_dec_is_zero(const char *x, size_t xn);
/* Integer conversion; -1 when out of int64 range or not integral. */
int xf_dec_to_int64(const char *x, size_t xn, int64_t *out);
void xf_dec_from_int64(struct cns_arena *a, int64_t v, const char **out,
		       uint32_t *outn);
double xf_dec_to_double(const char *x, size_t xn);
/* Shortest text that reads back as d; NaN and the infinities as
 * numeric's special values. */
int xf_dec_from_double(struct cns_arena *a, double d, const char **out,
		       uint32_t *outn);

/* ---- dates, times, zones (datetime.c, tz.c) ---- */

#define USECS_PER_DAY INT64_C(86400000000)
#define USECS_PER_SEC INT64_C(1000000)

/* 'infinity' and '-infinity' of date, timestamp and timestamptz (days or
 * microseconds), which sort after and before every other value. */
#define XF_DT_NOEND INT64_MAX
#define XF_DT_NOBEGIN INT64_MIN
#define XF_DT_FINITE(v) ((v) != XF_DT_NOEND && (v) != XF_DT_NOBEGIN)
/* PostgreSQL's ranges: dates from 4714-11-24 BC (Julian day 0) to
 * 5874897-12-31, timestamps from 4714-11-24 BC 00:00 to 294276 AD.
 * Timestamps here are microseconds since 1970 in 64 bits, which end
 * in January 294247: the last finite timestamp is 294246-12-31
 * 23:59:59.999999, a few days inside that. */
#define XF_DATE_MIN INT64_C(-2440588)
#define XF_DATE_MAX INT64_C(2145042905)
#define XF_TS_MIN (XF_DATE_MIN * USECS_PER_DAY)
#define XF_TS_MAX (INT64_C(106751982) * USECS_PER_DAY - 1)

int64_t xf_days_from_civil(int y, int m, int d);
void xf_civil_from_days(int64_t z, int *y, int *m, int *d);
bool xf_valid_ymd(int y, int m, int d);
int xf_days_in_month(int y, int m);

/* Text forms as PostgreSQL prints them ("0044-03-15 BC", "infinity");
 * buf at least 40 bytes; return the length. */
int xf_fmt_date(int64_t days, char *buf);
int xf_fmt_time(int64_t us, char *buf);
int xf_fmt_timestamp(int64_t us, char *buf);
int xf_fmt_timestamptz(int64_t us, char *buf); /* in UTC, "+00" */

/* Parses ISO-like date/time text.  kind: CNS_T_DATE, CNS_T_TIME,
 * CNS_T_TIMESTAMP or CNS_T_TIMESTAMPTZ.  For timestamptz, a value without
 * an offset is local time in tz.  Returns -1 with c->reason set. */
int xf_parse_datetime(struct ectx *c, const char *s, size_t n,
		      enum cns_type kind, int64_t *out);

struct tzinfo;
/* Loads a zone from the system database ("Europe/London", "UTC") or a
 * fixed offset ("+02:00"); NULL with *why set when it cannot. */
struct tzinfo *xf_tz_load(const char *name, struct cns_error *err);
void xf_tz_free(struct tzinfo *tz);
/* Offset of local time from UTC, in seconds, at the UTC instant t. */
int32_t xf_tz_offset_utc(const struct tzinfo *tz, int64_t t);
/* UTC instant of local wall time `local` (seconds).  For a local time
 * that happens twice the later (after the change) instant; for one that
 * does not exist the offset before the change, as PostgreSQL does. */
int64_t xf_tz_local_to_utc(const struct tzinfo *tz, int64_t local);
/* Microsecond versions (tz may be NULL for UTC). */
int64_t xf_tz_utc_to_local_us(const struct tzinfo *tz, int64_t us);
int64_t xf_tz_local_to_utc_us(const struct tzinfo *tz, int64_t us);

/* to_date / to_timestamp formats, compiled once. */
struct dtformat;
struct dtformat *xf_dtformat_compile(struct cns_arena *a, const char *fmt,
				     size_t n, const char **why);
/* Parses s by f into local wall time (microseconds), or into a UTC
 * instant when the text carries an offset (TZH/TZM): *is_utc says which. */
int xf_dtformat_parse(struct ectx *c, const struct dtformat *f, const char *s,
		      size_t n, int64_t *out_us, bool *is_utc);

/* date_trunc on a local wall time in microseconds; field must be valid. */
int xf_date_trunc_field(const char *field); /* -1 when unknown */
int64_t xf_date_trunc_us(int field, int64_t us);
const char *const *xf_date_trunc_fields(void); /* NULL-terminated */

/* ---- printing (print.c) ---- */

/* Appends the canonical text of n. */
void xf_print_expr(struct cns_buf *b, const struct node *n);
/* Appends a plain literal (not NULL, not a function, not folded from an
 * expression) as a SQL constant and returns true; else false. */
bool xf_print_sql_literal(struct cns_buf *b, const struct node *n);

/* ---- misc ---- */

void xf_md5_hex(const void *data, size_t n, char out[33]);
/* Simple (one character to one character) case mapping of UTF-8 text
 * into dst, which must hold 2 * n bytes; invalid bytes are copied as they
 * are.  Returns the length written. */
size_t xf_utf8_case(const char *s, size_t n, bool upper, char *dst);
/* Validates JSON text; NULL when valid, else a short reason. */
const char *xf_json_invalid(const char *s, size_t n);

/* Lookup tables (lookup.c) */
int xf_lookup_load(struct lookup *l, const char *path, struct diags *d,
		   int line, int col);
void xf_lookup_release(struct lookup *l);

#endif
