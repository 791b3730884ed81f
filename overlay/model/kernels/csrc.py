"""C sources of the decode kernels (``overlay.model.kernels.gemv`` builds them for this CPU).

``overlay_gemv_f32``: one row times a row-major fp32 matrix, four rows at a time sharing the
input. ``overlay_llama_step``: one decoded token through every layer of a Llama-layout model
(RMSNorm, q/k/v, rotary, grouped-query attention over the KV cache, o, SwiGLU MLP, residuals,
final norm), the same operations in the same order as ``overlay.model.lean``, written into
the same KV buffers — so prefill (torch) and steps (C) share one cache.
"""

SOURCE = r"""
#include <math.h>
#include <string.h>

void overlay_gemv_f32(const float *restrict W, const float *restrict x, float *restrict y,
                      long out, long in) {
    long j = 0;
    for (; j + 4 <= out; j += 4) {
        const float *restrict w0 = W + j * in, *restrict w1 = w0 + in;
        const float *restrict w2 = w1 + in, *restrict w3 = w2 + in;
        float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
        for (long i = 0; i < in; i++) {
            float v = x[i];
            s0 += w0[i] * v; s1 += w1[i] * v; s2 += w2[i] * v; s3 += w3[i] * v;
        }
        y[j] = s0; y[j + 1] = s1; y[j + 2] = s2; y[j + 3] = s3;
    }
    for (; j < out; j++) {
        const float *restrict w = W + j * in;
        float s = 0.f;
        for (long i = 0; i < in; i++) s += w[i] * x[i];
        y[j] = s;
    }
}

typedef struct {
    long layers, hidden, heads, kv_heads, head_dim, inter, capacity;
    float eps, scale;
} llama_cfg;

static void rmsnorm(const float *x, const float *w, float *out, long n, float eps) {
    float ss = 0.f;
    for (long i = 0; i < n; i++) ss += x[i] * x[i];
    float r = 1.0f / sqrtf(ss / (float)n + eps);
    for (long i = 0; i < n; i++) out[i] = w[i] * (x[i] * r);
}

static void rope(float *v, const float *cs, const float *sn, long d) {
    long h = d / 2;
    for (long i = 0; i < h; i++) {
        float a = v[i], b = v[i + h];
        v[i] = a * cs[i] - b * sn[i];
        v[i + h] = b * cs[i + h] + a * sn[i + h];
    }
}

/* y = W x, plus s * B (A x) where a LoRA adapter is worn (A: r x in, B: out x r; as PEFT's
   LoRA layer adds it: base output + lora_B(lora_A(x)) * scaling); t: r floats, tmp: out */
static void linear(const float *W, const float *A, const float *B, float s, long r,
                   const float *x, float *y, long out, long in, float *t, float *tmp) {
    overlay_gemv_f32(W, x, y, out, in);
    if (!A) return;
    overlay_gemv_f32(A, x, t, r, in);
    overlay_gemv_f32(B, t, tmp, out, r);
    for (long i = 0; i < out; i++) y[i] += tmp[i] * s;
}

/* w: 9 pointers a layer (input norm, q, k, v, o, post-attention norm, gate, up, down);
   la/lb/ls: NULL (no adapter), or 7 a layer (q, k, v, o, gate, up, down) of the worn LoRA
   adapter's A, B (NULL where the layer has none) and scaling, every A of rank r;
   kc/vc: each layer's key/value buffer (kv_heads, capacity, head_dim); x: in the token's
   embedding, out the final-norm hidden state;
   scratch: 4*hidden + 2*kv + 2*inter + capacity + r + inter */
void overlay_llama_step(const llama_cfg *c, const float *const *w, const float *final_norm,
                        float *const *kc, float *const *vc, long pos, const float *cs,
                        const float *sn, float *x, float *scratch, const float *const *la,
                        const float *const *lb, const float *ls, long r) {
    long H = c->hidden, D = c->head_dim, KV = c->kv_heads * D, I = c->inter, T = pos + 1;
    long group = c->heads / c->kv_heads;
    float *xn = scratch, *q = xn + H, *k = q + H, *v = k + KV, *att = v + KV, *o = att + H;
    float *g = o + H, *u = g + I, *sc = u + I, *t = sc + c->capacity, *tmp = t + r;
#define LIN(j, W, X, Y, OUT, IN) linear(W, la ? la[7 * l + j] : 0, la ? lb[7 * l + j] : 0, \
                                        la ? ls[7 * l + j] : 0.f, r, X, Y, OUT, IN, t, tmp)
    for (long l = 0; l < c->layers; l++) {
        const float *const *lw = w + 9 * l;
        rmsnorm(x, lw[0], xn, H, c->eps);
        LIN(0, lw[1], xn, q, c->heads * D, H);
        LIN(1, lw[2], xn, k, KV, H);
        LIN(2, lw[3], xn, v, KV, H);
        for (long h = 0; h < c->heads; h++) rope(q + h * D, cs, sn, D);
        for (long h = 0; h < c->kv_heads; h++) {
            rope(k + h * D, cs, sn, D);
            memcpy(kc[l] + (h * c->capacity + pos) * D, k + h * D, D * sizeof(float));
            memcpy(vc[l] + (h * c->capacity + pos) * D, v + h * D, D * sizeof(float));
        }
        for (long h = 0; h < c->heads; h++) {
            const float *K = kc[l] + (h / group) * c->capacity * D;
            const float *V = vc[l] + (h / group) * c->capacity * D;
            const float *qh = q + h * D;
            float m = -INFINITY, sum = 0.f;
            for (long t = 0; t < T; t++) {
                float s = 0.f;
                for (long i = 0; i < D; i++) s += qh[i] * K[t * D + i];
                sc[t] = s * c->scale;
                if (sc[t] > m) m = sc[t];
            }
            for (long t = 0; t < T; t++) { sc[t] = expf(sc[t] - m); sum += sc[t]; }
            float *oh = att + h * D;
            for (long i = 0; i < D; i++) oh[i] = 0.f;
            for (long t = 0; t < T; t++) {
                float p = sc[t] / sum;
                for (long i = 0; i < D; i++) oh[i] += p * V[t * D + i];
            }
        }
        LIN(3, lw[4], att, o, H, c->heads * D);
        for (long i = 0; i < H; i++) x[i] += o[i];
        rmsnorm(x, lw[5], xn, H, c->eps);
        LIN(4, lw[6], xn, g, I, H);
        LIN(5, lw[7], xn, u, I, H);
        for (long i = 0; i < I; i++) g[i] = g[i] / (1.f + expf(-g[i])) * u[i];
        LIN(6, lw[8], g, o, H, I);
        for (long i = 0; i < H; i++) x[i] += o[i];
    }
#undef LIN
    rmsnorm(x, final_norm, xn, H, c->eps);
    memcpy(x, xn, H * sizeof(float));
}
"""
