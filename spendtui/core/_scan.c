/* The history scan's byte searches (spendtui/core/skim.py), compiled.
 *
 * skim.py finds the few lines of a chunk that carry accounting with a regex pass, a
 * newline index and a timestamp findall; in CPython that is half of a cold `sessions`
 * run. This does the same searches with memchr/memmem and returns what skim.py's
 * Python path computes, so the two are interchangeable (tests/test_skim.py runs both):
 *
 *   scan(buf, agent_file, want_forks) -> None            (not compact: the full reader)
 *                                     | (lines, forks, lo, hi)
 *
 * lines: flat [start, end, sig, ...] of the wanted lines in file order, sig being
 *        (message id, bytes from "usage": to the requestId's end) or None;
 * forks: flat [start, end, ...] of the lines with a "forkedFrom": key (if want_forks);
 * lo/hi: the smallest and largest "timestamp" value, or None when there is none.
 *
 * It is optional: when it cannot be built, skim.py's Python path runs instead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* bytes.find(needle, start, end) */
static Py_ssize_t
find(const char *b, Py_ssize_t n, Py_ssize_t start, Py_ssize_t end, const char *needle, Py_ssize_t k)
{
    if (end > n)
        end = n;
    if (start < 0)
        start = 0;
    if (end - start < k)
        return -1;
    const char *p = memmem(b + start, (size_t)(end - start), needle, (size_t)k);
    return p ? (Py_ssize_t)(p - b) : -1;
}

#define LIT(s) s, (Py_ssize_t)(sizeof(s) - 1)

/* skim._signature */
static PyObject *
signature(const char *b, Py_ssize_t n, Py_ssize_t s, Py_ssize_t u, Py_ssize_t e)
{
    Py_ssize_t m = find(b, n, s, u, LIT("\"message\":{"));
    if (m < 0)
        Py_RETURN_NONE;
    Py_ssize_t i = find(b, n, m, m + 400, LIT("\"id\":\""));
    if (i < 0)
        Py_RETURN_NONE;
    Py_ssize_t j = find(b, n, i + 6, i + 200, LIT("\""));
    Py_ssize_t r = find(b, n, u, e, LIT("\"requestId\":\""));
    if (j < 0 || r < 0)
        Py_RETURN_NONE;
    Py_ssize_t rend = find(b, n, r + 13, e, LIT("\""));
    if (rend < 0)
        Py_RETURN_NONE;
    return Py_BuildValue("(y#y#)", b + i + 6, j - (i + 6), b + u, rend - u);
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Claude Code's timestamp format, as skim._TS_ALL checks it */
static int
ts_ok(const char *v, Py_ssize_t len)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (len != 24)
        return 0;
    for (int i = 0; i < 24; i++) {
        if (pat[i] == 'd' ? !is_digit(v[i]) : v[i] != pat[i])
            return 0;
    }
    return 1;
}

static Py_ssize_t
next_at(const char *b, Py_ssize_t n, Py_ssize_t p, const char *needle, Py_ssize_t k)
{
    Py_ssize_t r = find(b, n, p, n, needle, k);
    return r < 0 ? n : r;
}

/* the value after "type": at q (a possible space skipped) is one we want? returns its
 * length (with quotes) and sets *user, or 0 */
static Py_ssize_t
wanted_type(const char *b, Py_ssize_t n, Py_ssize_t q, int *user)
{
    static const char *names[] = {"\"user\"", "\"summary\"", "\"ai-title\"", "\"custom-title\""};
    for (int i = 0; i < 4; i++) {
        Py_ssize_t k = (Py_ssize_t)strlen(names[i]);
        if (q + k <= n && memcmp(b + q, names[i], (size_t)k) == 0) {
            *user = i == 0;
            return k;
        }
    }
    return 0;
}

static PyObject *
scan(PyObject *self, PyObject *args)
{
    Py_buffer view;
    int agent_file, want_forks;
    if (!PyArg_ParseTuple(args, "y*pp", &view, &agent_file, &want_forks))
        return NULL;
    const char *b = view.buf;
    Py_ssize_t n = view.len;
    PyObject *lines = PyList_New(0), *forks = PyList_New(0), *lo = NULL, *hi = NULL, *out = NULL;
    /* the current line [ls, le) (le: its newline); lines are checked as they are passed */
    Py_ssize_t ls = 0, le = -1;
    /* the wanted line being built: its start, end and usage position */
    Py_ssize_t mark_line = -1, mark_line_end = -1, mark_u = -1;
    Py_ssize_t nu, nt, nf, pos;
    if (lines == NULL || forks == NULL)
        goto done;
    if (n == 0 || b[n - 1] != '\n')
        goto not_compact;
    nu = next_at(b, n, 0, LIT("\"usage\":"));
    nt = next_at(b, n, 0, LIT("\"type\":"));
    nf = next_at(b, n, 0, LIT("\"forkedFrom\":"));

#define ADVANCE_TO(p)                                                                   \
    while (le < (p)) {                                                                  \
        if (le >= 0)                                                                    \
            ls = le + 1;                                                                \
        const char *nl = memchr(b + ls, '\n', (size_t)(n - ls));                        \
        le = nl - b; /* b ends in a newline */                                          \
        if (le == ls || b[ls] != '{' || b[le - 1] != '}')                               \
            goto not_compact;                                                           \
    }

#define FLUSH()                                                                         \
    if (mark_line >= 0) {                                                               \
        Py_ssize_t fe = mark_line_end;                                                  \
        PyObject *sig = mark_u >= 0 ? signature(b, n, mark_line, mark_u, fe) : (Py_INCREF(Py_None), Py_None); \
        if (sig == NULL)                                                                \
            goto done;                                                                  \
        PyObject *t0 = PyLong_FromSsize_t(mark_line), *t1 = PyLong_FromSsize_t(fe);     \
        int bad = t0 == NULL || t1 == NULL || PyList_Append(lines, t0) || PyList_Append(lines, t1) \
                  || PyList_Append(lines, sig);                                         \
        Py_XDECREF(t0);                                                                 \
        Py_XDECREF(t1);                                                                 \
        Py_DECREF(sig);                                                                 \
        if (bad)                                                                        \
            goto done;                                                                  \
        mark_line = -1;                                                                 \
    }

    for (;;) {
        /* the earliest match of the three keys, as one regex pass would find it */
        pos = nu;
        char kind = 'u';
        if (nt < pos) {
            pos = nt;
            kind = 't';
        }
        if (nf < pos) {
            pos = nf;
            kind = 'f';
        }
        if (pos >= n)
            break;
        Py_ssize_t klen;
        if (kind == 'u') {
            klen = 8;
            nu = next_at(b, n, pos + klen, LIT("\"usage\":"));
        } else if (kind == 'f') {
            klen = 13;
            nf = next_at(b, n, pos + klen, LIT("\"forkedFrom\":"));
        } else {
            klen = 7;
            nt = next_at(b, n, pos + klen, LIT("\"type\":"));
        }
        Py_ssize_t q = pos + klen;
        int space = q < n && b[q] == ' ';
        int user = 0;
        if (kind == 't') {
            Py_ssize_t v = wanted_type(b, n, q + space, &user);
            if (v == 0)
                continue; /* not one of the types we read */
            nt = next_at(b, n, q + space + v, LIT("\"type\":"));
        }
        if (space)
            goto not_compact;
        ADVANCE_TO(pos);
        if (mark_line >= 0 && mark_line != ls) {
            FLUSH();
        }
        if (kind == 'f') {
            if (want_forks) {
                PyObject *t0 = PyLong_FromSsize_t(ls), *t1 = PyLong_FromSsize_t(le);
                int bad = t0 == NULL || t1 == NULL || PyList_Append(forks, t0) || PyList_Append(forks, t1);
                Py_XDECREF(t0);
                Py_XDECREF(t1);
                if (bad)
                    goto done;
            }
            continue;
        }
        if (mark_line == ls)
            continue; /* the line's first match decides what it is */
        if (kind == 'u') {
            mark_u = pos;
        } else {
            if (user) {
                if (agent_file)
                    continue; /* a sub-agent's prompts are not the session's turns */
                if (find(b, n, ls, le, LIT("\"tool_use_id\":\"")) >= 0)
                    continue; /* a tool result: never a prompt */
            }
            mark_u = -1;
        }
        mark_line = ls;
        mark_line_end = le;
    }
    FLUSH();
    ADVANCE_TO(n - 1);

    /* the timestamps: "timestamp": ?"([^"]*)" */
    {
        const char *lov = NULL, *hiv = NULL;
        Py_ssize_t p = 0;
        for (;;) {
            Py_ssize_t t = find(b, n, p, n, LIT("\"timestamp\":"));
            if (t < 0)
                break;
            Py_ssize_t q = t + 12;
            if (q < n && b[q] == ' ')
                q++;
            if (q >= n || b[q] != '"') {
                p = t + 12;
                continue;
            }
            const char *close = memchr(b + q + 1, '"', (size_t)(n - q - 1));
            if (close == NULL) {
                p = t + 12;
                continue;
            }
            const char *v = b + q + 1;
            Py_ssize_t len = close - v;
            if (!ts_ok(v, len))
                goto not_compact;
            if (lov == NULL || memcmp(v, lov, 24) < 0)
                lov = v;
            if (hiv == NULL || memcmp(v, hiv, 24) > 0)
                hiv = v;
            p = (close - b) + 1;
        }
        if (lov != NULL) {
            lo = PyBytes_FromStringAndSize(lov, 24);
            hi = PyBytes_FromStringAndSize(hiv, 24);
            if (lo == NULL || hi == NULL)
                goto done;
        } else {
            lo = Py_NewRef(Py_None);
            hi = Py_NewRef(Py_None);
        }
    }
    out = PyTuple_Pack(4, lines, forks, lo, hi);
    goto done;

not_compact:
    out = Py_NewRef(Py_None);
done:
    Py_XDECREF(lines);
    Py_XDECREF(forks);
    Py_XDECREF(lo);
    Py_XDECREF(hi);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "The wanted lines, fork lines and timestamp extremes of whole lines."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__scan(void)
{
    return PyModule_Create(&module);
}
