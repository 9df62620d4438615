# stream.sh — sourced by the workload generators. stream SEED writes an endless deterministic
# pseudo-random byte stream (AES-128-CTR keystream over zeros, key derived from SEED), the same
# bytes on every machine with OpenSSL 1.1.1 or later.
stream() {
	openssl enc -aes-128-ctr -nosalt -pbkdf2 -iter 1 -pass "pass:kiln-bench/$1" </dev/zero 2>/dev/null
}
