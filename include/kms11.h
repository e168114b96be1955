/*
 * kms11.h: what kms11 adds to PKCS#11.
 *
 * kms11 is a PKCS#11 module whose keys live in AWS KMS. Its vendor-defined
 * attributes (in the CKA_VENDOR_DEFINED space, from CKA_KMS11_BASE) say
 * which KMS key an object is, and let a template of C_GenerateKeyPair or
 * C_GenerateKey ask KMS for what PKCS#11 has no attribute for.
 * docs/keys.md describes them with examples.
 *
 * Include it after a PKCS#11 header (pkcs11.h, p11-kit's, OpenSC's); it
 * needs none of their types, only CKA_VENDOR_DEFINED, which it defines
 * when no header did.
 *
 * Encodings, as PKCS#11 lays attribute values out:
 *   UTF-8     CK_UTF8CHAR bytes, not NUL-terminated (ulValueLen = length)
 *   CK_BBOOL  one byte, CK_TRUE or CK_FALSE
 */
#ifndef KMS11_H
#define KMS11_H

#ifndef CKA_VENDOR_DEFINED
#define CKA_VENDOR_DEFINED 0x80000000UL
#endif

/* The first of kms11's attribute types ('K' 'M' in the vendor space). */
#define CKA_KMS11_BASE (CKA_VENDOR_DEFINED | 0x4B4D0000UL)

/*
 * Read-only: on every object of a KMS key (private, public, secret key,
 * certificate). Not settable in a template.
 */

/* UTF-8: the key's ARN, arn:aws:kms:REGION:ACCOUNT:key/KEY-ID. */
#define CKA_KMS11_KEY_ARN (CKA_KMS11_BASE + 0x01UL)
/* UTF-8: the key's KeySpec as KMS names it (RSA_2048, ECC_NIST_P256, ...). */
#define CKA_KMS11_KEY_SPEC (CKA_KMS11_BASE + 0x02UL)
/* UTF-8: the key's KeyUsage as KMS names it (SIGN_VERIFY, ...). */
#define CKA_KMS11_KEY_USAGE (CKA_KMS11_BASE + 0x03UL)
/* UTF-8: the alias that names the key here (the configured one, or the one
 * C_GenerateKeyPair created); empty when the key is named by ID or ARN. */
#define CKA_KMS11_ALIAS (CKA_KMS11_BASE + 0x04UL)

/*
 * On every object of a KMS key, and in generation templates.
 */

/* CK_BBOOL: a multi-Region key (its key ID starts mrk-). In a template:
 * CreateKey's MultiRegion. Default CK_FALSE. */
#define CKA_KMS11_MULTI_REGION (CKA_KMS11_BASE + 0x05UL)

/*
 * Generation templates only (C_GenerateKeyPair's private-key template,
 * C_GenerateKey's template); no object has them.
 */

/* UTF-8: the key policy, a JSON document (CreateKey's Policy). Default:
 * KMS's default key policy. */
#define CKA_KMS11_KEY_POLICY (CKA_KMS11_BASE + 0x06UL)
/* UTF-8: more tags, a JSON object of strings, {"team":"release"}
 * (CreateKey's Tags, beside the ones kms11 writes). */
#define CKA_KMS11_TAGS (CKA_KMS11_BASE + 0x07UL)
/* UTF-8: the key's description (CreateKey's Description). Default: one
 * that names the token and CKA_LABEL. */
#define CKA_KMS11_DESCRIPTION (CKA_KMS11_BASE + 0x08UL)

#endif /* KMS11_H */
