/* bank.h - a bank whose accounts many threads use at once.
 *
 * Every function is thread-safe: any number of threads may call any of them
 * on the same bank at the same time (except bank_destroy, which the caller
 * runs once no other thread uses the bank). Accounts are numbered
 * 0 .. naccounts-1 and hold whole units of money. */
#ifndef BANK_H
#define BANK_H

/* Opaque: bank.c defines the struct, so it may choose its own locks. */
typedef struct bank bank_t;

enum bank_status { BANK_OK = 0, BANK_INVALID = 1, BANK_INSUFFICIENT = 2 };

/* A bank of naccounts accounts, each holding `initial`.
 * NULL if naccounts < 1 or initial < 0 (or if memory runs out). */
bank_t *bank_create(int naccounts, long initial);

/* Frees the bank. No other thread may be using it. */
void bank_destroy(bank_t *b);

/* Moves amount from account `from` to account `to` as one step: money is never
 * created or lost and no balance goes below 0. BANK_INVALID for an unknown
 * account or amount <= 0; BANK_INSUFFICIENT if `from` holds less than amount;
 * from == to is allowed and changes nothing. Must never deadlock.
 *
 * Argument errors come first: BANK_INVALID wins over BANK_INSUFFICIENT. A
 * transfer with from == to returns BANK_INSUFFICIENT when the account holds
 * less than amount and BANK_OK otherwise, changing nothing either way. */
enum bank_status bank_transfer(bank_t *b, int from, int to, long amount);

/* The balance of one account; -1 for an unknown account. */
long bank_balance(bank_t *b, int account);

/* The sum of all balances at one instant: while transfers run, it is always
 * the total the bank was created with. */
long bank_total(bank_t *b);

#endif /* BANK_H */
