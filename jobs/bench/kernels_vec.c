/*
 * kernels_vec.c — the candidate vector tanh for gradscope-kernels, in its
 * own file because it is compiled with -ffast-math: glibc's math.h then
 * declares tanhf as a SIMD function and GCC calls libmvec's vector tanhf
 * (8 floats per call: built with AVX2; gradscope-kernels checks the CPU). f(z) = tanh(z).
 */
#include <math.h>
#include <stddef.h>

void kernels_tanh_vec(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = tanhf(a[i]);
}
