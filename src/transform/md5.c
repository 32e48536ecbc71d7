/*
 * md5.c - MD5 for the md5() function, from OpenSSL's libcrypto (which
 * libpq already links).  It is for checksums of values, as in
 * PostgreSQL's md5(), never for security.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <openssl/evp.h>
#include <stdlib.h>

void xf_md5_hex(const void *data, size_t n, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	/* EVP_Digest fails only when it cannot allocate its context: out
	 * of memory, which aborts everywhere else too (cns_xmalloc). */
	if (!EVP_Digest(data, n, md, &len, EVP_md5(), NULL) || len != 16)
		abort();
	for (unsigned i = 0; i < 16; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
}
