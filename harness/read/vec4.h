/* vec4: four floats (f4) or four lane masks (m4) in one vector, with the
 * lane helpers the text reader's hot loops use (GCC's and Clang's vector
 * extensions: SSE on x86-64, plain code elsewhere). A mask lane is -1
 * (yes) or 0 (no), as the vector comparisons give them.
 *
 * Ownership: types and inline functions only. */
#ifndef HIL_READ_VEC4_H
#define HIL_READ_VEC4_H

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

typedef float f4 __attribute__((vector_size(4 * sizeof(float))));
typedef int32_t m4 __attribute__((vector_size(4 * sizeof(int32_t))));

static inline f4 f4_all(float v)
{
	return (f4){ v, v, v, v };
}

/* Four floats from p, aligned or not. */
static inline f4 f4_load(const float *p)
{
	f4 v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline float f4_sum(f4 a)
{
	return (a[0] + a[1]) + (a[2] + a[3]);
}

/* The lanes of m that are yes. */
static inline int m4_count(m4 m)
{
	return -((m[0] + m[1]) + (m[2] + m[3]));
}

/* a where m, else +0. */
static inline f4 f4_keep(f4 a, m4 m)
{
	return (f4)((m4)a & m);
}

/* yes where m, else no. */
static inline f4 f4_select(m4 m, f4 yes, f4 no)
{
	return (f4)((m & (m4)yes) | (~m & (m4)no));
}

/* Lane by lane, as a < b ? a : b and a > b ? a : b. */
static inline f4 f4_min(f4 a, f4 b)
{
	return f4_select(a < b, a, b);
}

static inline f4 f4_max(f4 a, f4 b)
{
	return f4_select(a > b, a, b);
}

/* The lanes of m as four bits, lane 0 the most significant (as samples
 * read left to right make a glyph's row). */
static inline unsigned m4_bits(m4 m)
{
#if defined(__SSE2__)
	static const uint8_t reversed[16] = { 0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15 };
	return reversed[_mm_movemask_ps((__m128)m)];
#else
	return (unsigned)((m[0] & 8) | (m[1] & 4) | (m[2] & 2) | (m[3] & 1));
#endif
}

static inline float f4_hmin(f4 a)
{
	float m = a[0];
	for (int j = 1; j < 4; j++)
		m = a[j] < m ? a[j] : m;
	return m;
}

static inline float f4_hmax(f4 a)
{
	float m = a[0];
	for (int j = 1; j < 4; j++)
		m = a[j] > m ? a[j] : m;
	return m;
}

#endif
