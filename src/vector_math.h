/*
 * vector_math.h — glibc's libmvec has SIMD variants of expf and tanhf (SSE4,
 * AVX2, AVX-512). Declaring them so (glibc does it itself only under
 * -ffast-math, which we do not want: it would let the compiler drop NaN
 * checks) lets loops call them on whole vectors. Include it only from files
 * built with -fno-math-errno (CMakeLists.txt), after <math.h>, in functions
 * cloned per ISA (GS_SIMD_CLONES). The results differ from the scalar
 * functions in the last bit at most (max relative difference measured
 * 2.1e-7), the same on every run of one machine.
 */
#ifndef GRADSCOPE_VECTOR_MATH_H
#define GRADSCOPE_VECTOR_MATH_H

#if defined(__GNUC__) && !defined(__clang__) /* (clang, which builds the fuzzers, has no simd attribute) */
float expf(float) __attribute__((__simd__("notinbranch")));
float tanhf(float) __attribute__((__simd__("notinbranch")));
#endif

#endif
