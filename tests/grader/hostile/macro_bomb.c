/* Hostile: a macro that expands to 2^32 tokens: the compile never ends
 * Reason: the compiler was stopped|out of memory|killed by
 */
#define A(x) x x
#define B(x) A(A(A(A(x))))
#define C(x) B(B(B(B(x))))
#define D(x) C(C(x))

static int hostile(void)
{
    return D(1 +) 1;
}
