/* The state tree's update in C: the same results as the pure-Python
 * reference of ledger/statetree/tree.py (StateTree.update and its _Updater),
 * byte for byte (tests/ledger/test_statetree.py compares both on random
 * batches: roots, puts, stale lists, new nodes, in the same order).
 * Optional: tree.py falls back to its Python code when this is not built.
 *
 * A decoded node is a `Node` struct (below) held in a bytes object of
 * NODE_SIZE bytes: one allocation per node, no Python object per entry.
 * `heap(node)` gives the Python reference's 32-entry heap of tuples (proofs,
 * tests); `decode(raw)` turns a stored node into a `Node`.
 *
 * Deterministic: no floats, no unordered iteration (the block's keys are
 * sorted by sha256 before anything is hashed; a node's binary hashes are
 * recomputed level by level, slots in ascending order).
 *
 * sha256: OpenSSL's libcrypto when setup.py finds its header
 * (SETTLE_OPENSSL), else the small portable implementation below (FIPS 180-4).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#ifdef SETTLE_OPENSSL
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
/* the low-level calls: OpenSSL 3's one-shot SHA256() goes through an EVP fetch per call */
static void sha256(const unsigned char *d, size_t n, unsigned char *out)
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, d, n);
    SHA256_Final(out, &c);
}
#define SHA_IMPL "openssl"
#else
#define SHA_IMPL "bundled"
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void compress(uint32_t *s, const unsigned char *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
    int i;
    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = s[0]; b = s[1]; c = s[2]; d = s[3]; e = s[4]; f = s[5]; g = s[6]; h = s[7];
    for (i = 0; i < 64; i++) {
        t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += h;
}

static void sha256(const unsigned char *d, size_t n, unsigned char *out)
{
    uint32_t s[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    unsigned char blk[128];
    size_t rest, i;
    uint64_t bits = (uint64_t)n * 8;
    while (n >= 64) { compress(s, d); d += 64; n -= 64; }
    rest = n;
    memcpy(blk, d, rest);
    blk[rest++] = 0x80;
    size_t total = rest + 8 <= 64 ? 64 : 128;
    memset(blk + rest, 0, total - rest);
    for (i = 0; i < 8; i++)
        blk[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    compress(s, blk);
    if (total == 128)
        compress(s, blk + 64);
    for (i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(s[i] >> 24); out[4 * i + 1] = (unsigned char)(s[i] >> 16);
        out[4 * i + 2] = (unsigned char)(s[i] >> 8); out[4 * i + 3] = (unsigned char)s[i];
    }
}
#endif


static PyObject *EMPTY;   /* nodes.py's _E: (PLACEHOLDER, 0) */
static PyObject *ONE, *TWO;

/* ------------------------------------------------------------------ nodes
 * Index i of kind/hash is the Python heap's index: 16 + nibble for the
 * children, 1..15 for the binary subtrees inside the node (1 = the node).
 * kind 0 empty (hash all zero: the placeholder), 1 one leaf, 2 more.  A
 * child leaf has kh, vh and its value (vlen bytes at offset voff of the
 * node object, after the struct); a child inner node its version in ver.
 * Unused fields are zero.  While a node is worked on (`WNode`), vp points
 * at each leaf's value: inside a node object or an update's value, both
 * kept alive until the update returns. */
typedef struct {
    uint8_t kind[32];
    uint8_t hash[32][32];
    uint8_t kh[16][32];
    uint8_t vh[16][32];
    uint64_t ver[16];
    uint32_t voff[16], vlen[16];
} Node;
#define NODE_SIZE ((Py_ssize_t)sizeof(Node))

typedef struct {
    Node n;
    const uint8_t *vp[16];
} WNode;

/* one entry: a child of a node, or what an update returns (kind 0: nothing) */
typedef struct {
    uint8_t kind;
    uint8_t hash[32], kh[32], vh[32];
    uint64_t ver;        /* inner node: its version */
    const uint8_t *vp;   /* leaf: its value */
    uint32_t vlen;
} Entry;

static void put_be8(uint8_t *out, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++) out[7 - i] = (uint8_t)(v >> (8 * i));
}

static void put_be4(uint8_t *out, uint32_t v)
{
    out[0] = (uint8_t)(v >> 24); out[1] = (uint8_t)(v >> 16); out[2] = (uint8_t)(v >> 8); out[3] = (uint8_t)v;
}

static uint32_t get_be4(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be8(const uint8_t *p)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static void hash2(uint8_t prefix, const uint8_t *a, const uint8_t *b, uint8_t *out)
{
    uint8_t buf[65];
    buf[0] = prefix;
    memcpy(buf + 1, a, 32);
    memcpy(buf + 33, b, 32);
    sha256(buf, 65, out);
}

static void get_child(const WNode *w, int nib, Entry *e)
{
    const Node *n = &w->n;
    e->kind = n->kind[16 + nib];
    memcpy(e->hash, n->hash[16 + nib], 32);
    memcpy(e->kh, n->kh[nib], 32);
    memcpy(e->vh, n->vh[nib], 32);
    e->ver = n->ver[nib];
    e->vp = w->vp[nib];
    e->vlen = n->vlen[nib];
}

static void set_child(WNode *w, int nib, const Entry *e)
{
    Node *n = &w->n;
    n->kind[16 + nib] = e->kind;
    memcpy(n->hash[16 + nib], e->hash, 32);
    if (e->kind == 1) {
        memcpy(n->kh[nib], e->kh, 32);
        memcpy(n->vh[nib], e->vh, 32);
        w->vp[nib] = e->vp;
        n->vlen[nib] = e->vlen;
    } else {
        memset(n->kh[nib], 0, 32);
        memset(n->vh[nib], 0, 32);
        w->vp[nib] = NULL;
        n->vlen[nib] = 0;
    }
    n->voff[nib] = 0;
    n->ver[nib] = e->kind == 2 ? e->ver : 0;
}

/* index i from 2i, 2i+1 (nodes.py's _combine) */
static void combine(Node *n, int i)
{
    int a = 2 * i, b = a + 1, ka = n->kind[a], kb = n->kind[b];
    if (!kb && ka < 2) {
        n->kind[i] = (uint8_t)ka;
        memcpy(n->hash[i], n->hash[a], 32);
    } else if (!ka && kb == 1) {
        n->kind[i] = 1;
        memcpy(n->hash[i], n->hash[b], 32);
    } else {
        n->kind[i] = 2;
        hash2(1, n->hash[a], n->hash[b], n->hash[i]);
    }
}

static void fill_mask(Node *n, uint32_t mask /* bit s set: slot s (16..31) changed */)
{
    int level, s;
    for (level = 0; level < 4; level++) {
        uint32_t up = 0;
        for (s = 1; s < 32; s++)
            if (mask & (1u << s)) up |= 1u << (s >> 1);
        for (s = 1; s < 32; s++)
            if (up & (1u << s)) combine(n, s);
        mask = up;
    }
}

/* the child slot (16..31) of the one leaf under index i (kind[i] == 1) */
static int leaf_under(const Node *n, int i)
{
    while (i < 16) i = n->kind[2 * i] ? 2 * i : 2 * i + 1;
    return i;
}

/* the stored bytes of a node (tree.py's format) */
static PyObject *encode(const WNode *w)
{
    const Node *n = &w->n;
    Py_ssize_t size = 0, p = 0;
    int nib;
    for (nib = 0; nib < 16; nib++)
        size += n->kind[16 + nib] == 1 ? 37 + (Py_ssize_t)n->vlen[nib] : n->kind[16 + nib] ? 41 : 0;
    PyObject *o = PyBytes_FromStringAndSize(NULL, size);
    if (!o) return NULL;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(o);
    for (nib = 0; nib < 16; nib++) {
        int k = n->kind[16 + nib];
        if (k == 1) {
            out[p] = (uint8_t)(nib << 4 | 1);
            memcpy(out + p + 1, n->kh[nib], 32);
            put_be4(out + p + 33, n->vlen[nib]);
            memcpy(out + p + 37, w->vp[nib], n->vlen[nib]);
            p += 37 + (Py_ssize_t)n->vlen[nib];
        } else if (k == 2) {
            out[p] = (uint8_t)(nib << 4 | 2);
            put_be8(out + p + 1, n->ver[nib]);
            memcpy(out + p + 9, n->hash[16 + nib], 32);
            p += 41;
        }
    }
    return o;
}

/* the node object: the struct, then the leaves' values (voff set here) */
static PyObject *node_object(const WNode *w)
{
    Py_ssize_t size = NODE_SIZE;
    int nib;
    for (nib = 0; nib < 16; nib++)
        if (w->n.kind[16 + nib] == 1) size += w->n.vlen[nib];
    PyObject *o = PyBytes_FromStringAndSize(NULL, size);
    if (!o) return NULL;
    uint8_t *base = (uint8_t *)PyBytes_AS_STRING(o);
    Node *n = (Node *)base;
    uint32_t off = (uint32_t)NODE_SIZE;
    memcpy(n, &w->n, sizeof(Node));
    for (nib = 0; nib < 16; nib++) {
        if (n->kind[16 + nib] == 1) {
            n->voff[nib] = off;
            memcpy(base + off, w->vp[nib], n->vlen[nib]);
            off += n->vlen[nib];
        } else {
            n->voff[nib] = 0;
        }
    }
    return o;
}

/* decode(data) -> node object; ValueError(message) for a malformed node (tree.py adds the key) */
static PyObject *py_decode(PyObject *self, PyObject *data)
{
    if (!PyBytes_Check(data)) { PyErr_SetString(PyExc_TypeError, "node bytes expected"); return NULL; }
    const uint8_t *d = (const uint8_t *)PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data), i = 0;
    int last = -1;
    WNode w;
    memset(&w, 0, sizeof w);
    while (i < n) {
        int tag = d[i], nib = tag >> 4, kind = tag & 15;
        if (nib <= last) {
            PyErr_SetString(PyExc_ValueError, "tree node children out of order");
            return NULL;
        }
        last = nib;
        if (kind == 1 && i + 37 <= n && i + 37 + (Py_ssize_t)get_be4(d + i + 33) <= n) {
            uint32_t len = get_be4(d + i + 33);
            w.n.kind[16 + nib] = 1;
            memcpy(w.n.kh[nib], d + i + 1, 32);
            w.n.vlen[nib] = len;
            w.vp[nib] = d + i + 37;
            sha256(d + i + 37, len, w.n.vh[nib]);
            hash2(0, w.n.kh[nib], w.n.vh[nib], w.n.hash[16 + nib]);
            i += 37 + (Py_ssize_t)len;
        } else if (kind == 2 && i + 41 <= n) {
            w.n.kind[16 + nib] = 2;
            w.n.ver[nib] = get_be8(d + i + 1);
            memcpy(w.n.hash[16 + nib], d + i + 9, 32);
            i += 41;
        } else {
            PyErr_Format(PyExc_ValueError, "tree node has a bad child entry at byte %zd", i);
            return NULL;
        }
    }
    fill_mask(&w.n, 0xFFFF0000u);
    return node_object(&w);
}

/* a node object into *out (its values stay in o: keep o alive while out is used) */
static int as_node(PyObject *o, WNode *out)
{
    Py_ssize_t size;
    int nib;
    if (!PyBytes_CheckExact(o) || (size = PyBytes_GET_SIZE(o)) < NODE_SIZE) {
        PyErr_SetString(PyExc_TypeError, "a decoded tree node (from _native.decode) expected");
        return -1;
    }
    const uint8_t *base = (const uint8_t *)PyBytes_AS_STRING(o);
    memcpy(&out->n, base, sizeof(Node));
    for (nib = 0; nib < 16; nib++) {
        const Node *n = &out->n;
        if (n->kind[16 + nib] == 1) {
            if ((Py_ssize_t)n->voff[nib] < NODE_SIZE || (Py_ssize_t)n->voff[nib] + (Py_ssize_t)n->vlen[nib] > size) {
                PyErr_SetString(PyExc_ValueError, "a tree node object with a value out of bounds");
                return -1;
            }
            out->vp[nib] = base + n->voff[nib];
        } else {
            out->vp[nib] = NULL;
        }
    }
    return 0;
}

static PyObject *bytes32(const uint8_t *p) { return PyBytes_FromStringAndSize((const char *)p, 32); }

/* the Python reference's entry for child slot s of w */
static PyObject *child_tuple(const WNode *w, int s)
{
    const Node *n = &w->n;
    int nib = s - 16, k = n->kind[s];
    uint8_t enc[41];
    PyObject *h, *e, *v, *kh = NULL, *vh = NULL, *r = NULL;
    if (!k) { Py_INCREF(EMPTY); return EMPTY; }
    h = bytes32(n->hash[s]);
    if (k == 1) {
        uint32_t len = n->vlen[nib];
        v = PyBytes_FromStringAndSize((const char *)w->vp[nib], len);
        e = PyBytes_FromStringAndSize(NULL, 37 + (Py_ssize_t)len);
        if (e) {
            uint8_t *p = (uint8_t *)PyBytes_AS_STRING(e);
            p[0] = (uint8_t)(nib << 4 | 1);
            memcpy(p + 1, n->kh[nib], 32);
            put_be4(p + 33, len);
            memcpy(p + 37, w->vp[nib], len);
        }
        kh = bytes32(n->kh[nib]);
        vh = bytes32(n->vh[nib]);
        if (h && e && v && kh && vh) r = PyTuple_Pack(6, h, ONE, e, kh, vh, v);
    } else {
        v = PyLong_FromUnsignedLongLong(n->ver[nib]);
        enc[0] = (uint8_t)(nib << 4 | 2);
        put_be8(enc + 1, n->ver[nib]);
        memcpy(enc + 9, n->hash[s], 32);
        e = PyBytes_FromStringAndSize((const char *)enc, 41);
        if (h && e && v) r = PyTuple_Pack(4, h, TWO, e, v);
    }
    Py_XDECREF(h); Py_XDECREF(e); Py_XDECREF(v); Py_XDECREF(kh); Py_XDECREF(vh);
    return r;
}

/* heap(node) -> the Python reference's 32-entry heap of the same node */
static PyObject *py_heap(PyObject *self, PyObject *o)
{
    WNode w;
    const Node *n = &w.n;
    int i;
    if (!EMPTY) { PyErr_SetString(PyExc_RuntimeError, "_native.setup() not called"); return NULL; }
    if (as_node(o, &w) < 0) return NULL;
    PyObject *heap = PyList_New(32);
    if (!heap) return NULL;
    Py_INCREF(Py_None);
    PyList_SET_ITEM(heap, 0, Py_None);
    for (i = 16; i < 32; i++) {
        PyObject *e = child_tuple(&w, i);
        if (!e) { Py_DECREF(heap); return NULL; }
        PyList_SET_ITEM(heap, i, e);
    }
    for (i = 15; i >= 1; i--) {
        PyObject *e;
        if (n->kind[i] == 0) { e = EMPTY; Py_INCREF(e); }
        else if (n->kind[i] == 1) { e = PyList_GET_ITEM(heap, leaf_under(n, i)); Py_INCREF(e); }
        else {
            PyObject *h = bytes32(n->hash[i]);
            e = h ? PyTuple_Pack(2, h, TWO) : NULL;
            Py_XDECREF(h);
            if (!e) { Py_DECREF(heap); return NULL; }
        }
        PyList_SET_ITEM(heap, i, e);
    }
    return heap;
}

/* ------------------------------------------------------------------ the update
 * A mirror of tree.py's StateTree.update and _Updater (update, _update_inner,
 * _build, write), step for step, so the puts, the stale list and the new
 * nodes come out in the same order.  ups: the block's writes as (kh, value |
 * None) sorted by kh; [lo, hi) is the part under `path`.  An update returns 1
 * (changed: *out is the new entry, kind 0 for none), 0 (unchanged) or -1
 * (error set). */

typedef struct {
    uint8_t kh[32];
    PyObject *value;  /* borrowed from the writes dict (bytes); Py_None deletes */
} Up;

typedef struct {
    PyObject *node;       /* callable: node key -> node | None */
    PyObject *cache;      /* dict node key -> node looked in first (the callable's own cache), or NULL */
    PyObject *missing;    /* callable: node key -> raises */
    uint8_t v8[8];
    uint64_t v;
    PyObject *puts, *new_nodes, *stale;
    PyObject *keep;       /* the node objects read: their values are pointed at until the update returns */
    Up *ups;
} Ctx;

static int update(Ctx *c, uint8_t *path, int plen, const Entry *child, Py_ssize_t lo, Py_ssize_t hi, int depth, Entry *out);

static int nibble_of(const uint8_t *kh, int depth)
{
    uint8_t b = kh[depth >> 1];
    return depth & 1 ? b & 15 : b >> 4;
}

static PyObject *node_key_of(const uint8_t *path, int plen, const uint8_t *v8)
{
    PyObject *k = PyBytes_FromStringAndSize(NULL, 2 + plen + 8);
    if (!k) return NULL;
    uint8_t *p = (uint8_t *)PyBytes_AS_STRING(k);
    p[0] = 'n'; p[1] = (uint8_t)plen;
    memcpy(p + 2, path, (size_t)plen);
    memcpy(p + 2 + plen, v8, 8);
    return k;
}

/* the leaf of (kh, value) at this version into *e */
static void new_leaf(const uint8_t *kh, PyObject *value, const uint8_t *vh, Entry *e)
{
    e->kind = 1;
    memcpy(e->kh, kh, 32);
    memcpy(e->vh, vh, 32);
    e->ver = 0;
    e->vp = (const uint8_t *)PyBytes_AS_STRING(value);
    e->vlen = (uint32_t)PyBytes_GET_SIZE(value);
    hash2(0, kh, vh, e->hash);
}

static void value_hash(PyObject *value, uint8_t *vh)
{
    sha256((const uint8_t *)PyBytes_AS_STRING(value), (size_t)PyBytes_GET_SIZE(value), vh);
}

/* tree.py's _Updater.write: puts[node key] = encoding, new_nodes[node key] = node; *out = its entry */
static int write_node(Ctx *c, const uint8_t *path, int plen, const WNode *w, Entry *out)
{
    PyObject *nk = node_key_of(path, plen, c->v8);
    if (!nk) return -1;
    PyObject *e = encode(w);
    PyObject *nb = e ? node_object(w) : NULL;
    int r = (nb && PyDict_SetItem(c->puts, nk, e) == 0 && PyDict_SetItem(c->new_nodes, nk, nb) == 0) ? 0 : -1;
    Py_XDECREF(e); Py_XDECREF(nb); Py_DECREF(nk);
    if (r < 0) return -1;
    memset(out, 0, sizeof(Entry));
    out->kind = 2;
    memcpy(out->hash, w->n.hash[1], 32);
    out->ver = c->v;
    return 0;
}

/* tree.py's _build: an inner node at path over leaves[0..n) (two or more, sorted by kh) */
static int build(Ctx *c, const uint8_t *path, int plen, const Entry *leaves, Py_ssize_t n, int depth, Entry *out)
{
    uint32_t mask = 0;
    Py_ssize_t i = 0;
    uint8_t sub[66];
    int r = -1;
    if (plen > 64) { PyErr_SetString(PyExc_ValueError, "tree path too deep"); return -1; }
    WNode *w = PyMem_Calloc(1, sizeof(WNode)); /* off the C stack: the recursion may go deep */
    if (!w) { PyErr_NoMemory(); return -1; }
    memcpy(sub, path, (size_t)plen);
    while (i < n) {
        int nib = nibble_of(leaves[i].kh, depth);
        Py_ssize_t j = i + 1;
        while (j < n && nibble_of(leaves[j].kh, depth) == nib) j++;
        if (j - i == 1) {
            set_child(w, nib, &leaves[i]);
        } else {
            Entry e;
            sub[plen] = (uint8_t)nib;
            if (build(c, sub, plen + 1, leaves + i, j - i, depth + 1, &e) < 0) goto done;
            set_child(w, nib, &e);
        }
        mask |= 1u << (16 + nib);
        i = j;
    }
    fill_mask(&w->n, mask);
    r = write_node(c, path, plen, w, out);
done:
    PyMem_Free(w);
    return r;
}

static int load(Ctx *c, PyObject *nk, WNode *out)
{
    PyObject *n = NULL;
    if (c->cache) {
        n = PyDict_GetItemWithError(c->cache, nk); /* borrowed */
        if (!n && PyErr_Occurred()) return -1;
        Py_XINCREF(n);
    }
    if (!n) {
        n = PyObject_CallOneArg(c->node, nk);
        if (n == Py_None) {
            Py_DECREF(n);
            n = PyObject_CallOneArg(c->missing, nk); /* raises */
            Py_XDECREF(n);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "tree node missing");
            return -1;
        }
        if (!n) return -1;
    }
    int r = PyList_Append(c->keep, n) < 0 ? -1 : as_node(n, out);
    Py_DECREF(n);
    return r;
}

/* the children of `heap` at path (groups of ups[lo..hi) by nibble) updated into *nh; returns the changed-slot mask, or -1 */
static int64_t update_children(Ctx *c, uint8_t *sub, int plen, const WNode *heap, WNode *nh, Py_ssize_t lo, Py_ssize_t hi, int depth)
{
    uint32_t mask = 0;
    Py_ssize_t i = lo;
    while (i < hi) {
        int nib = nibble_of(c->ups[i].kh, depth);
        Py_ssize_t j = i + 1;
        Entry old, ne;
        while (j < hi && nibble_of(c->ups[j].kh, depth) == nib) j++;
        get_child(heap, nib, &old);
        sub[plen] = (uint8_t)nib;
        int r = update(c, sub, plen + 1, old.kind ? &old : NULL, i, j, depth + 1, &ne);
        if (r < 0) return -1;
        i = j;
        if (r == 0 || (ne.kind == 0 && old.kind == 0)) continue;
        if (!mask) memcpy(nh, heap, sizeof(WNode));
        set_child(nh, nib, &ne);
        mask |= 1u << (16 + nib);
    }
    return mask;
}

static int update_inner(Ctx *c, uint8_t *path, int plen, const Entry *child, Py_ssize_t lo, Py_ssize_t hi, int depth, Entry *out)
{
    uint8_t cv[8], sub[66];
    WNode *heap, *nh;
    int r = -1;
    if (plen > 64) { PyErr_SetString(PyExc_ValueError, "tree path too deep"); return -1; }
    put_be8(cv, child->ver);
    PyObject *nk = node_key_of(path, plen, cv);
    if (!nk) return -1;
    heap = PyMem_Malloc(2 * sizeof(WNode)); /* off the C stack: the recursion may go deep */
    if (!heap) { Py_DECREF(nk); PyErr_NoMemory(); return -1; }
    nh = heap + 1;
    if (load(c, nk, heap) < 0) goto done;
    memcpy(sub, path, (size_t)plen);
    int64_t mask = update_children(c, sub, plen, heap, nh, lo, hi, depth);
    if (mask < 0) goto done;
    if (!mask) { r = 0; goto done; }
    if (PyList_Append(c->stale, nk) < 0) goto done;
    fill_mask(&nh->n, (uint32_t)mask);
    if (nh->n.kind[1] < 2) { /* collapsed into its one leaf (or gone) */
        if (nh->n.kind[1]) get_child(nh, leaf_under(&nh->n, 1) - 16, out);
        else memset(out, 0, sizeof(Entry));
        r = 1;
        goto done;
    }
    r = write_node(c, path, plen, nh, out) < 0 ? -1 : 1;
done:
    PyMem_Free(heap);
    Py_DECREF(nk);
    return r;
}

static int update(Ctx *c, uint8_t *path, int plen, const Entry *child, Py_ssize_t lo, Py_ssize_t hi, int depth, Entry *out)
{
    uint8_t vh[32];
    if (child) {
        if (child->kind == 2) return update_inner(c, path, plen, child, lo, hi, depth, out);
        Up *u = &c->ups[lo];
        if (hi - lo == 1 && memcmp(u->kh, child->kh, 32) == 0) { /* the common case: one entry's value changes */
            if (u->value == Py_None) { memset(out, 0, sizeof(Entry)); return 1; }
            value_hash(u->value, vh);
            if (memcmp(vh, child->vh, 32) == 0) return 0;
            new_leaf(u->kh, u->value, vh, out);
            return 1;
        }
    }
    /* the entries: the new leaves of ups (in kh order) and the child unless replaced or deleted */
    Py_ssize_t n = hi - lo, k = 0, i;
    Entry *ent = PyMem_Malloc(sizeof(Entry) * (size_t)(n + 1));
    int keep_child = child != NULL, changed = 0, r = -1;
    if (!ent) { PyErr_NoMemory(); return -1; }
    for (i = lo; i < hi; i++) {
        Up *u = &c->ups[i];
        int is_old = child && memcmp(u->kh, child->kh, 32) == 0;
        if (u->value == Py_None) {
            if (!is_old) continue;
            keep_child = 0;
        } else {
            value_hash(u->value, vh);
            if (is_old && memcmp(vh, child->vh, 32) == 0) continue;
            new_leaf(u->kh, u->value, vh, &ent[k++]);
            if (is_old) keep_child = 0;
        }
        changed = 1;
    }
    if (!changed) { r = 0; goto done; }
    if (keep_child) { /* the kept child in kh order */
        Py_ssize_t at = 0;
        while (at < k && memcmp(ent[at].kh, child->kh, 32) < 0) at++;
        memmove(ent + at + 1, ent + at, sizeof(Entry) * (size_t)(k - at));
        ent[at] = *child;
        k++;
    }
    r = 1;
    if (k == 0) memset(out, 0, sizeof(Entry));
    else if (k == 1) *out = ent[0];
    else if (build(c, path, plen, ent, k, depth, out) < 0) r = -1;
done:
    PyMem_Free(ent);
    return r;
}

static int up_cmp(const void *a, const void *b)
{
    return memcmp(((const Up *)a)->kh, ((const Up *)b)->kh, 32);
}

/* update(node, cache, missing, writes, version, prev_version) -> (root, puts, stale, new_nodes)
 * tree.py's StateTree.update: the tree of `version` from the one of
 * prev_version (-1: the empty tree, no root node) with writes applied.
 * Nodes are read from `cache` (a dict, or None) and else from node(key). */
static PyObject *py_update(PyObject *self, PyObject *args)
{
    Ctx c;
    PyObject *writes, *key, *value, *result = NULL, *rootkey = NULL;
    long long version, prev;
    Py_ssize_t pos = 0, n, i = 0;
    WNode *root = NULL;
    if (!PyArg_ParseTuple(args, "OOOO!LL", &c.node, &c.cache, &c.missing, &PyDict_Type, &writes, &version, &prev)) return NULL;
    if (c.cache == Py_None) c.cache = NULL;
    else if (!PyDict_CheckExact(c.cache)) { PyErr_SetString(PyExc_TypeError, "update: cache is a dict or None"); return NULL; }
    if (version < 0 || version <= prev) { PyErr_SetString(PyExc_ValueError, "update: bad version"); return NULL; }
    c.v = (uint64_t)version;
    put_be8(c.v8, c.v);
    n = PyDict_GET_SIZE(writes);
    c.ups = PyMem_Malloc(sizeof(Up) * (size_t)(n ? n : 1));
    root = PyMem_Calloc(2, sizeof(WNode));
    c.puts = PyDict_New();
    c.new_nodes = PyDict_New();
    c.stale = PyList_New(0);
    c.keep = PyList_New(0);
    if (!c.ups || !root) { PyErr_NoMemory(); goto done; }
    if (!c.puts || !c.new_nodes || !c.stale || !c.keep) goto done;
    while (PyDict_Next(writes, &pos, &key, &value)) {
        Py_buffer b;
        if (value != Py_None && (!PyBytes_Check(value) || PyBytes_GET_SIZE(value) > 0x7FFFFFFF)) {
            PyErr_SetString(PyExc_TypeError, "tree values are bytes (under 2 GB) or None");
            goto done;
        }
        if (PyObject_GetBuffer(key, &b, PyBUF_SIMPLE) < 0) goto done;
        sha256((const uint8_t *)b.buf, (size_t)b.len, c.ups[i].kh);
        PyBuffer_Release(&b);
        c.ups[i++].value = value;
    }
    qsort(c.ups, (size_t)n, sizeof(Up), up_cmp);
    if (prev >= 0) {
        uint8_t pv[8];
        put_be8(pv, (uint64_t)prev);
        if (!(rootkey = node_key_of((const uint8_t *)"", 0, pv)) || load(&c, rootkey, root) < 0) goto done;
    }
    uint8_t sub[66];
    int64_t mask = update_children(&c, sub, 0, root, root + 1, 0, n, 0);
    if (mask < 0) goto done;
    if (!mask) memcpy(root + 1, root, sizeof(WNode));
    if (prev >= 0) {
        if (PyList_Append(c.stale, rootkey) < 0) goto done;
    }
    fill_mask(&root[1].n, (uint32_t)mask);
    Entry top;
    if (write_node(&c, (const uint8_t *)"", 0, root + 1, &top) < 0) goto done;
    PyObject *h = bytes32(root[1].n.hash[1]);
    if (h) result = PyTuple_Pack(4, h, c.puts, c.stale, c.new_nodes);
    Py_XDECREF(h);
done:
    PyMem_Free(c.ups);
    PyMem_Free(root);
    Py_XDECREF(rootkey);
    Py_XDECREF(c.puts); Py_XDECREF(c.new_nodes); Py_XDECREF(c.stale); Py_XDECREF(c.keep);
    return result;
}

/* setup(empty_entry): nodes.py's _E, shared so empty slots are the same object */
static PyObject *py_setup(PyObject *self, PyObject *e)
{
    Py_XDECREF(EMPTY);
    Py_INCREF(e);
    EMPTY = e;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", py_setup, METH_O, "setup(empty_entry): the empty slot entry of nodes.py"},
    {"decode", py_decode, METH_O, "decode(data) -> node (ValueError if malformed)"},
    {"heap", py_heap, METH_O, "heap(node) -> the Python reference's heap of the node"},
    {"update", py_update, METH_VARARGS, "update(node, cache, missing, writes, version, prev_version) -> (root, puts, stale, new_nodes)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void)
{
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    ONE = PyLong_FromLong(1);
    TWO = PyLong_FromLong(2);
    EMPTY = NULL;
    if (PyModule_AddStringConstant(m, "SHA256", SHA_IMPL) < 0) return NULL;
    return m;
}
