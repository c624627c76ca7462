/* The state tree's node work in C: the same results as the pure-Python
 * helpers of ledger/statetree/tree.py (_leaf, _fill, encode_node, decode_node),
 * byte for byte and object for object (tests/ledger/test_statetree.py
 * compares both on random batches).  Optional: tree.py falls back to its
 * Python helpers when this module is not built.
 *
 * Deterministic: no floats, no unordered iteration (a node's binary hashes
 * are recomputed level by level, slots in ascending order).
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

static PyObject *EMPTY;   /* tree.py's _E: (PLACEHOLDER, 0) */
static PyObject *ONE, *TWO;

static PyObject *hash_bytes(unsigned char prefix, const char *a, const char *b, Py_ssize_t bn)
{
    unsigned char buf[1 + 32 + 64], out[32];
    buf[0] = prefix;
    memcpy(buf + 1, a, 32);
    memcpy(buf + 33, b, (size_t)bn);
    sha256(buf, (size_t)(33 + bn), out);
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

static long kind_of(PyObject *e)
{
    return PyLong_AsLong(PyTuple_GET_ITEM(e, 1));
}

/* heap[i] from heap[2i], heap[2i+1] (tree.py's _combine). */
static int combine(PyObject *heap, Py_ssize_t i)
{
    PyObject *a = PyList_GET_ITEM(heap, 2 * i), *b = PyList_GET_ITEM(heap, 2 * i + 1), *r;
    long ka = kind_of(a), kb = kind_of(b);
    if (!kb && ka < 2) {
        r = a; Py_INCREF(r);
    } else if (!ka && kb == 1) {
        r = b; Py_INCREF(r);
    } else {
        PyObject *ha = PyTuple_GET_ITEM(a, 0), *hb = PyTuple_GET_ITEM(b, 0);
        if (PyBytes_GET_SIZE(ha) != 32 || PyBytes_GET_SIZE(hb) != 32) {
            PyErr_SetString(PyExc_ValueError, "tree entry hash is not 32 bytes");
            return -1;
        }
        PyObject *h = hash_bytes(1, PyBytes_AS_STRING(ha), PyBytes_AS_STRING(hb), 32);
        if (!h) return -1;
        r = PyTuple_Pack(2, h, TWO);
        Py_DECREF(h);
        if (!r) return -1;
    }
    PyList_SetItem(heap, i, r); /* steals r */
    return 0;
}

static int fill_mask(PyObject *heap, uint32_t mask /* bit s set: slot s (16..31) changed */)
{
    int level;
    for (level = 0; level < 4; level++) {
        uint32_t up = 0;
        int s;
        for (s = 1; s < 32; s++)
            if (mask & (1u << s)) up |= 1u << (s >> 1);
        for (s = 1; s < 32; s++)
            if ((up & (1u << s)) && combine(heap, s) < 0) return -1;
        mask = up;
    }
    return 0;
}

static int check_heap(PyObject *heap)
{
    if (!PyList_CheckExact(heap) || PyList_GET_SIZE(heap) != 32) {
        PyErr_SetString(PyExc_TypeError, "a tree node heap is a list of 32 entries");
        return -1;
    }
    return 0;
}

/* fill(heap, slots) -> heap */
static PyObject *py_fill(PyObject *self, PyObject *args)
{
    PyObject *heap, *slots, *it, *x;
    uint32_t mask = 0;
    if (!PyArg_ParseTuple(args, "OO", &heap, &slots) || check_heap(heap) < 0) return NULL;
    if (!(it = PyObject_GetIter(slots))) return NULL;
    while ((x = PyIter_Next(it))) {
        long s = PyLong_AsLong(x);
        Py_DECREF(x);
        if (s < 16 || s > 31) {
            Py_DECREF(it);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "slot out of range");
            return NULL;
        }
        mask |= 1u << s;
    }
    Py_DECREF(it);
    if (PyErr_Occurred() || fill_mask(heap, mask) < 0) return NULL;
    Py_INCREF(heap);
    return heap;
}

/* leaf(nib, kh, vh, vver) -> (hash, 1, enc, kh, vh, vver) */
static PyObject *py_leaf(PyObject *self, PyObject *args)
{
    int nib;
    PyObject *kh, *vh, *vver;
    if (!PyArg_ParseTuple(args, "iSSO", &nib, &kh, &vh, &vver)) return NULL;
    if (PyBytes_GET_SIZE(kh) != 32 || PyBytes_GET_SIZE(vh) != 32 || nib < 0 || nib > 15) {
        PyErr_SetString(PyExc_ValueError, "leaf: bad nibble or hash length");
        return NULL;
    }
    /* keep the caller's kh/vh objects, as the Python helper does */
    unsigned char enc[73];
    unsigned long long v = PyLong_AsUnsignedLongLong(vver);
    int i;
    if (v == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    enc[0] = (unsigned char)(nib << 4 | 1);
    memcpy(enc + 1, PyBytes_AS_STRING(kh), 32);
    memcpy(enc + 33, PyBytes_AS_STRING(vh), 32);
    for (i = 0; i < 8; i++) enc[72 - i] = (unsigned char)(v >> (8 * i));
    PyObject *h = hash_bytes(0, PyBytes_AS_STRING(kh), PyBytes_AS_STRING(vh), 32);
    PyObject *e = PyBytes_FromStringAndSize((const char *)enc, 73);
    PyObject *r = (h && e) ? PyTuple_Pack(6, h, ONE, e, kh, vh, vver) : NULL;
    Py_XDECREF(h); Py_XDECREF(e);
    return r;
}

/* encode(heap) -> bytes: the children's encodings in nibble order */
static PyObject *py_encode(PyObject *self, PyObject *heap)
{
    Py_ssize_t n = 0, i;
    if (check_heap(heap) < 0) return NULL;
    for (i = 16; i < 32; i++) {
        PyObject *e = PyList_GET_ITEM(heap, i);
        if (kind_of(e)) {
            PyObject *enc = PyTuple_GET_ITEM(e, 2);
            if (!PyBytes_Check(enc)) { PyErr_SetString(PyExc_TypeError, "child encoding is not bytes"); return NULL; }
            n += PyBytes_GET_SIZE(enc);
        }
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) return NULL;
    char *p = PyBytes_AS_STRING(out);
    for (i = 16; i < 32; i++) {
        PyObject *e = PyList_GET_ITEM(heap, i);
        if (kind_of(e)) {
            PyObject *enc = PyTuple_GET_ITEM(e, 2);
            memcpy(p, PyBytes_AS_STRING(enc), (size_t)PyBytes_GET_SIZE(enc));
            p += PyBytes_GET_SIZE(enc);
        }
    }
    return out;
}

static PyObject *u64(const unsigned char *p)
{
    unsigned long long v = 0;
    int i;
    for (i = 0; i < 8; i++) v = v << 8 | p[i];
    return PyLong_FromUnsignedLongLong(v);
}

/* decode(data) -> heap; ValueError(message) for a malformed node (tree.py adds the key) */
static PyObject *py_decode(PyObject *self, PyObject *data)
{
    if (!PyBytes_Check(data) || !EMPTY) { PyErr_SetString(PyExc_TypeError, "node bytes expected (after setup)"); return NULL; }
    const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data), i = 0;
    int last = -1, s;
    PyObject *heap = PyList_New(32);
    if (!heap) return NULL;
    Py_INCREF(Py_None);
    PyList_SET_ITEM(heap, 0, Py_None);
    for (s = 1; s < 32; s++) { Py_INCREF(EMPTY); PyList_SET_ITEM(heap, s, EMPTY); }
    while (i < n) {
        int tag = d[i], nib = tag >> 4, kind = tag & 15;
        PyObject *e = NULL;
        if (nib <= last) {
            PyErr_SetString(PyExc_ValueError, "tree node children out of order");
            goto fail;
        }
        last = nib;
        if (kind == 1 && i + 73 <= n) {
            PyObject *kh = PyBytes_FromStringAndSize((const char *)d + i + 1, 32);
            PyObject *vh = PyBytes_FromStringAndSize((const char *)d + i + 33, 32);
            PyObject *enc = PyBytes_FromStringAndSize((const char *)d + i, 73);
            PyObject *ver = u64(d + i + 65);
            PyObject *h = hash_bytes(0, (const char *)d + i + 1, (const char *)d + i + 33, 32);
            e = (kh && vh && enc && ver && h) ? PyTuple_Pack(6, h, ONE, enc, kh, vh, ver) : NULL;
            Py_XDECREF(kh); Py_XDECREF(vh); Py_XDECREF(enc); Py_XDECREF(ver); Py_XDECREF(h);
            i += 73;
        } else if (kind == 2 && i + 41 <= n) {
            PyObject *h = PyBytes_FromStringAndSize((const char *)d + i + 9, 32);
            PyObject *enc = PyBytes_FromStringAndSize((const char *)d + i, 41);
            PyObject *ver = u64(d + i + 1);
            e = (h && enc && ver) ? PyTuple_Pack(4, h, TWO, enc, ver) : NULL;
            Py_XDECREF(h); Py_XDECREF(enc); Py_XDECREF(ver);
            i += 41;
        } else {
            PyErr_Format(PyExc_ValueError, "tree node has a bad child entry at byte %zd", i);
            goto fail;
        }
        if (!e) goto fail;
        PyList_SetItem(heap, 16 + nib, e);
    }
    if (fill_mask(heap, 0xFFFF0000u) < 0) goto fail;
    return heap;
fail:
    Py_DECREF(heap);
    return NULL;
}


/* ------------------------------------------------------------------ the per-key update
 * A mirror of tree.py's _Updater.update / _update_inner / _build / write, in
 * the same order (so the puts, the stale list and the new nodes come out in
 * the same order).  ups: a list of (kh, value | None) sorted by kh, unique;
 * [lo, hi) is the part under `path`. */

typedef struct {
    PyObject *node;       /* callable: node key -> heap | None */
    PyObject *missing;    /* callable: node key -> raises */
    PyObject *v;          /* the version (int) */
    unsigned char v8[8];
    PyObject *puts, *new_nodes, *stale;
    PyObject *ups;
} Ctx;

static PyObject *update(Ctx *c, const unsigned char *path, int plen, PyObject *child, Py_ssize_t lo, Py_ssize_t hi, int depth);

static int nibble_of(const unsigned char *kh, int depth)
{
    unsigned char b = kh[depth >> 1];
    return depth & 1 ? b & 15 : b >> 4;
}

static PyObject *node_key_of(const unsigned char *path, int plen, const unsigned char *v8)
{
    PyObject *k = PyBytes_FromStringAndSize(NULL, 2 + plen + 8);
    if (!k) return NULL;
    unsigned char *p = (unsigned char *)PyBytes_AS_STRING(k);
    p[0] = 'n'; p[1] = (unsigned char)plen;
    memcpy(p + 2, path, (size_t)plen);
    memcpy(p + 2 + plen, v8, 8);
    return k;
}

static void be8(PyObject *ver, unsigned char *out, int *err)
{
    unsigned long long v = PyLong_AsUnsignedLongLong(ver);
    int i;
    if (v == (unsigned long long)-1 && PyErr_Occurred()) { *err = 1; return; }
    for (i = 0; i < 8; i++) out[7 - i] = (unsigned char)(v >> (8 * i));
}

static PyObject *value_key_of(const char *kh, const unsigned char *v8)
{
    PyObject *k = PyBytes_FromStringAndSize(NULL, 41);
    if (!k) return NULL;
    char *p = PyBytes_AS_STRING(k);
    p[0] = 'v';
    memcpy(p + 1, kh, 32);
    memcpy(p + 33, v8, 8);
    return k;
}

static int append_stale_value(Ctx *c, PyObject *old)
{
    unsigned char ov[8];
    int err = 0;
    be8(PyTuple_GET_ITEM(old, 5), ov, &err);
    if (err) return -1;
    PyObject *k = value_key_of(PyBytes_AS_STRING(PyTuple_GET_ITEM(old, 3)), ov);
    if (!k) return -1;
    int r = PyList_Append(c->stale, k);
    Py_DECREF(k);
    return r;
}

/* leaf entry for (nib, kh, vh) at this version; puts[v||kh||v8] = value */
static PyObject *new_leaf(Ctx *c, int nib, PyObject *kh, PyObject *value, const unsigned char *vh)
{
    PyObject *vk = value_key_of(PyBytes_AS_STRING(kh), c->v8);
    if (!vk) return NULL;
    int r = PyDict_SetItem(c->puts, vk, value);
    Py_DECREF(vk);
    if (r < 0) return NULL;
    unsigned char enc[73];
    enc[0] = (unsigned char)(nib << 4 | 1);
    memcpy(enc + 1, PyBytes_AS_STRING(kh), 32);
    memcpy(enc + 33, vh, 32);
    memcpy(enc + 65, c->v8, 8);
    PyObject *h = hash_bytes(0, PyBytes_AS_STRING(kh), (const char *)vh, 32);
    PyObject *e = PyBytes_FromStringAndSize((const char *)enc, 73);
    PyObject *vhb = PyBytes_FromStringAndSize((const char *)vh, 32);
    PyObject *out = (h && e && vhb) ? PyTuple_Pack(6, h, ONE, e, kh, vhb, c->v) : NULL;
    Py_XDECREF(h); Py_XDECREF(e); Py_XDECREF(vhb);
    return out;
}

static int value_hash(PyObject *value, unsigned char *vh)
{
    Py_buffer b;
    if (PyObject_GetBuffer(value, &b, PyBUF_SIMPLE) < 0) return -1;
    sha256((const unsigned char *)b.buf, (size_t)b.len, vh);
    PyBuffer_Release(&b);
    return 0;
}

/* tree.py's _placed: e as the child in slot nib (new reference) */
static PyObject *placed(PyObject *e, int nib)
{
    PyObject *enc = PyTuple_GET_ITEM(e, 2);
    Py_ssize_t n = PyBytes_GET_SIZE(enc), i, len = PyTuple_GET_SIZE(e);
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(enc);
    if (p[0] >> 4 == nib) { Py_INCREF(e); return e; }
    PyObject *ne = PyBytes_FromStringAndSize(NULL, n);
    if (!ne) return NULL;
    unsigned char *q = (unsigned char *)PyBytes_AS_STRING(ne);
    memcpy(q, p, (size_t)n);
    q[0] = (unsigned char)(nib << 4 | kind_of(e));
    PyObject *t = PyTuple_New(len);
    if (!t) { Py_DECREF(ne); return NULL; }
    for (i = 0; i < len; i++) {
        PyObject *x = i == 2 ? ne : PyTuple_GET_ITEM(e, i);
        if (i != 2) Py_INCREF(x);
        PyTuple_SET_ITEM(t, i, x);
    }
    return t;
}

/* tree.py's _Updater.write */
static PyObject *write_node(Ctx *c, const unsigned char *path, int plen, PyObject *heap)
{
    PyObject *nk = node_key_of(path, plen, c->v8);
    if (!nk) return NULL;
    PyObject *enc = py_encode(NULL, heap);
    if (!enc || PyDict_SetItem(c->puts, nk, enc) < 0 || PyDict_SetItem(c->new_nodes, nk, heap) < 0) {
        Py_XDECREF(enc); Py_DECREF(nk); return NULL;
    }
    Py_DECREF(enc); Py_DECREF(nk);
    PyObject *h = PyTuple_GET_ITEM(PyList_GET_ITEM(heap, 1), 0);
    PyObject *ce;
    if (plen) {
        unsigned char buf[41];
        buf[0] = (unsigned char)(path[plen - 1] << 4 | 2);
        memcpy(buf + 1, c->v8, 8);
        memcpy(buf + 9, PyBytes_AS_STRING(h), 32);
        ce = PyBytes_FromStringAndSize((const char *)buf, 41);
    } else {
        ce = PyBytes_FromStringAndSize("", 0);
    }
    if (!ce) return NULL;
    PyObject *r = PyTuple_Pack(4, h, TWO, ce, c->v);
    Py_DECREF(ce);
    return r;
}

static PyObject *new_heap(void)
{
    PyObject *heap = PyList_New(32);
    int s;
    if (!heap) return NULL;
    Py_INCREF(Py_None);
    PyList_SET_ITEM(heap, 0, Py_None);
    for (s = 1; s < 32; s++) { Py_INCREF(EMPTY); PyList_SET_ITEM(heap, s, EMPTY); }
    return heap;
}

static const unsigned char *kh_of(PyObject *e) { return (const unsigned char *)PyBytes_AS_STRING(PyTuple_GET_ITEM(e, 3)); }

/* tree.py's _build: an inner node at path over leaves[0..n) (two or more, sorted by kh) */
static PyObject *build(Ctx *c, const unsigned char *path, int plen, PyObject **leaves, Py_ssize_t n, int depth)
{
    PyObject *heap = new_heap();
    uint32_t mask = 0;
    Py_ssize_t i = 0;
    unsigned char sub[66];
    if (!heap) return NULL;
    if (plen > 64) { PyErr_SetString(PyExc_ValueError, "tree path too deep"); goto fail; }
    memcpy(sub, path, (size_t)plen);
    while (i < n) {
        int nib = nibble_of(kh_of(leaves[i]), depth);
        Py_ssize_t j = i + 1;
        while (j < n && nibble_of(kh_of(leaves[j]), depth) == nib) j++;
        PyObject *e;
        if (j - i == 1) {
            e = leaves[i]; Py_INCREF(e);
        } else {
            sub[plen] = (unsigned char)nib;
            e = build(c, sub, plen + 1, leaves + i, j - i, depth + 1);
            if (!e) goto fail;
        }
        PyObject *pe = placed(e, nib);
        Py_DECREF(e);
        if (!pe) goto fail;
        PyList_SetItem(heap, 16 + nib, pe);
        mask |= 1u << (16 + nib);
        i = j;
    }
    if (fill_mask(heap, mask) < 0) goto fail;
    PyObject *r = write_node(c, path, plen, heap);
    Py_DECREF(heap);
    return r;
fail:
    Py_DECREF(heap);
    return NULL;
}

static PyObject *update_inner(Ctx *c, const unsigned char *path, int plen, PyObject *child, Py_ssize_t lo, Py_ssize_t hi, int depth)
{
    unsigned char cv[8], sub[66];
    int err = 0;
    uint32_t mask = 0;
    PyObject *nheap = NULL, *r = NULL;
    if (plen > 64) { PyErr_SetString(PyExc_ValueError, "tree path too deep"); return NULL; }
    be8(PyTuple_GET_ITEM(child, 3), cv, &err);
    if (err) return NULL;
    PyObject *nk = node_key_of(path, plen, cv);
    if (!nk) return NULL;
    PyObject *heap = PyObject_CallOneArg(c->node, nk);
    if (heap == Py_None) {
        Py_DECREF(heap);
        heap = PyObject_CallOneArg(c->missing, nk); /* raises */
        Py_XDECREF(heap);
        Py_DECREF(nk);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "tree node missing");
        return NULL;
    }
    if (!heap || check_heap(heap) < 0) { Py_XDECREF(heap); Py_DECREF(nk); return NULL; }
    memcpy(sub, path, (size_t)plen);
    Py_ssize_t i = lo;
    while (i < hi) {
        const unsigned char *kh = (const unsigned char *)PyBytes_AS_STRING(PyTuple_GET_ITEM(PyList_GET_ITEM(c->ups, i), 0));
        int nib = nibble_of(kh, depth);
        Py_ssize_t j = i + 1;
        while (j < hi && nibble_of((const unsigned char *)PyBytes_AS_STRING(PyTuple_GET_ITEM(PyList_GET_ITEM(c->ups, j), 0)), depth) == nib) j++;
        PyObject *old = PyList_GET_ITEM(heap, 16 + nib);
        long ok = kind_of(old);
        sub[plen] = (unsigned char)nib;
        PyObject *nw = update(c, sub, plen + 1, ok ? old : NULL, i, j, depth + 1);
        if (!nw) goto done;
        i = j;
        if (nw == old || (nw == Py_None && !ok)) { Py_DECREF(nw); continue; }
        if (!nheap) {
            nheap = PyList_GetSlice(heap, 0, 32);
            if (!nheap) { Py_DECREF(nw); goto done; }
        }
        PyObject *pe;
        if (nw == Py_None) { pe = EMPTY; Py_INCREF(pe); }
        else pe = placed(nw, nib);
        Py_DECREF(nw);
        if (!pe) goto done;
        PyList_SetItem(nheap, 16 + nib, pe);
        mask |= 1u << (16 + nib);
    }
    if (!nheap) { Py_INCREF(child); r = child; goto done; }
    if (PyList_Append(c->stale, nk) < 0 || fill_mask(nheap, mask) < 0) goto done;
    PyObject *top = PyList_GET_ITEM(nheap, 1);
    long tk = kind_of(top);
    if (tk < 2) {
        r = tk ? top : Py_None;
        Py_INCREF(r);
        goto done;
    }
    r = write_node(c, path, plen, nheap);
done:
    Py_XDECREF(nheap);
    Py_DECREF(heap);
    Py_DECREF(nk);
    return r;
}

static PyObject *update(Ctx *c, const unsigned char *path, int plen, PyObject *child, Py_ssize_t lo, Py_ssize_t hi, int depth)
{
    unsigned char vh[32];
    int nib = path[plen - 1];
    if (child) {
        if (kind_of(child) == 2) return update_inner(c, path, plen, child, lo, hi, depth);
        PyObject *up = PyList_GET_ITEM(c->ups, lo);
        PyObject *kh = PyTuple_GET_ITEM(up, 0), *value = PyTuple_GET_ITEM(up, 1);
        if (hi - lo == 1 && memcmp(PyBytes_AS_STRING(kh), kh_of(child), 32) == 0) {
            if (value != Py_None) {
                if (value_hash(value, vh) < 0) return NULL;
                if (memcmp(vh, PyBytes_AS_STRING(PyTuple_GET_ITEM(child, 4)), 32) == 0) { Py_INCREF(child); return child; }
            }
            if (append_stale_value(c, child) < 0) return NULL;
            if (value == Py_None) Py_RETURN_NONE;
            return new_leaf(c, nib, PyTuple_GET_ITEM(child, 3), value, vh);
        }
    }
    /* entries: the new leaves of ups (in kh order) and the child unless replaced or deleted */
    Py_ssize_t n = hi - lo, k = 0, i;
    PyObject **ent = PyMem_Malloc(sizeof(PyObject *) * (size_t)(n + 1));
    int child_state = child ? 1 : 0; /* 1 kept, 0 gone */
    int changed = 0;
    PyObject *r = NULL;
    if (!ent) return PyErr_NoMemory();
    for (i = lo; i < hi; i++) {
        PyObject *up = PyList_GET_ITEM(c->ups, i);
        PyObject *kh = PyTuple_GET_ITEM(up, 0), *value = PyTuple_GET_ITEM(up, 1);
        PyObject *old = (child && memcmp(PyBytes_AS_STRING(kh), kh_of(child), 32) == 0) ? child : NULL;
        if (value == Py_None) {
            if (!old) continue;
            child_state = 0;
        } else {
            if (value_hash(value, vh) < 0) goto done;
            if (old && memcmp(vh, PyBytes_AS_STRING(PyTuple_GET_ITEM(old, 4)), 32) == 0) continue;
            PyObject *e = new_leaf(c, nib, kh, value, vh);
            if (!e) goto done;
            ent[k++] = e;
            if (old) child_state = 0;
        }
        if (old && append_stale_value(c, old) < 0) goto done;
        changed = 1;
    }
    if (!changed) { Py_INCREF(child ? child : Py_None); r = child ? child : Py_None; goto done; }
    if (child_state) { /* insert the kept child in kh order */
        Py_ssize_t at = 0;
        while (at < k && memcmp(kh_of(ent[at]), kh_of(child), 32) < 0) at++;
        memmove(ent + at + 1, ent + at, sizeof(PyObject *) * (size_t)(k - at));
        Py_INCREF(child);
        ent[at] = child;
        k++;
    }
    if (k < 2) { r = k ? ent[0] : Py_None; Py_INCREF(r); goto done; }
    r = build(c, path, plen, ent, k, depth);
done:
    for (i = 0; i < k; i++) Py_DECREF(ent[i]);
    PyMem_Free(ent);
    return r;
}

/* update(node, missing, version, puts, new_nodes, stale, path, child | None, ups, depth) -> entry | None */
static PyObject *py_update(PyObject *self, PyObject *args)
{
    Ctx c;
    PyObject *path, *child;
    int depth, err = 0;
    if (!PyArg_ParseTuple(args, "OOOO!O!O!SOO!i", &c.node, &c.missing, &c.v, &PyDict_Type, &c.puts, &PyDict_Type, &c.new_nodes,
                          &PyList_Type, &c.stale, &path, &child, &PyList_Type, &c.ups, &depth))
        return NULL;
    if (!EMPTY || PyBytes_GET_SIZE(path) < 1 || PyBytes_GET_SIZE(path) > 64 || PyList_GET_SIZE(c.ups) < 1) {
        PyErr_SetString(PyExc_ValueError, "update: bad path or no updates");
        return NULL;
    }
    be8(c.v, c.v8, &err);
    if (err) return NULL;
    Py_ssize_t i, n = PyList_GET_SIZE(c.ups);
    for (i = 0; i < n; i++) {
        PyObject *u = PyList_GET_ITEM(c.ups, i);
        if (!PyTuple_CheckExact(u) || PyTuple_GET_SIZE(u) != 2 || !PyBytes_CheckExact(PyTuple_GET_ITEM(u, 0)) ||
            PyBytes_GET_SIZE(PyTuple_GET_ITEM(u, 0)) != 32) {
            PyErr_SetString(PyExc_TypeError, "update: ups are (32-byte kh, value | None)");
            return NULL;
        }
    }
    return update(&c, (const unsigned char *)PyBytes_AS_STRING(path), (int)PyBytes_GET_SIZE(path), child == Py_None ? NULL : child, 0, n, depth);
}

/* setup(empty_entry): tree.py's _E, shared so empty slots are the same object */
static PyObject *py_setup(PyObject *self, PyObject *e)
{
    Py_XDECREF(EMPTY);
    Py_INCREF(e);
    EMPTY = e;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", py_setup, METH_O, "setup(empty_entry): the empty slot entry of tree.py"},
    {"leaf", py_leaf, METH_VARARGS, "leaf(nib, kh, vh, vver) -> leaf entry"},
    {"fill", py_fill, METH_VARARGS, "fill(heap, slots) -> heap, entries above slots recomputed"},
    {"encode", py_encode, METH_O, "encode(heap) -> node bytes"},
    {"decode", py_decode, METH_O, "decode(data) -> heap (ValueError if malformed)"},
    {"update", py_update, METH_VARARGS, "update(...) -> the new entry at path (tree.py's _Updater.update)"},
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
