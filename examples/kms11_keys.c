/*
 * kms11_keys: a C program that uses kms11 through dlopen and include/kms11.h.
 *
 *   kms11_keys MODULE TOKEN LABEL
 *
 * Lists every private key of every token with the KMS key ARN behind it
 * (CKA_KMS11_KEY_ARN), then, in token TOKEN (which must set
 * allow_key_management = true), makes a P-256 signing key labelled LABEL
 * with a vendor template (CKA_KMS11_TAGS, CKA_KMS11_DESCRIPTION), signs a
 * message with it (CKM_ECDSA_SHA256), and destroys it (KMS schedules its
 * deletion). Output, one item per line:
 *
 *   key <token> <label> <arn>      for each private key found
 *   generated <arn>
 *   message <hex>
 *   signature <hex>                r || s
 *   destroyed <arn>
 *
 * Build: cc -std=c99 -Wall -Wextra -I include -I /usr/include/p11-kit-1 \
 *            examples/kms11_keys.c -ldl -o kms11_keys
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>
#include <kms11.h>

static CK_FUNCTION_LIST_PTR p11;

static void die(const char *what, CK_RV rv)
{
    fprintf(stderr, "kms11_keys: %s failed: CK_RV 0x%lx\n", what, (unsigned long)rv);
    exit(1);
}

static void check(const char *what, CK_RV rv)
{
    if (rv != CKR_OK)
        die(what, rv);
}

static void print_hex(const char *name, const unsigned char *p, CK_ULONG n)
{
    CK_ULONG i;
    printf("%s ", name);
    for (i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

/* A text attribute of an object, NUL-terminated in buf (empty if absent). */
static void text_attribute(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
                           char *buf, size_t size)
{
    CK_ATTRIBUTE a;
    a.type = t;
    a.pValue = buf;
    a.ulValueLen = (CK_ULONG)(size - 1);
    if (p11->C_GetAttributeValue(s, o, &a, 1) != CKR_OK || a.ulValueLen >= size)
        a.ulValueLen = 0;
    buf[a.ulValueLen] = '\0';
}

static void blank_trimmed(char *dst, const CK_UTF8CHAR *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n] = '\0';
    while (n > 0 && dst[n - 1] == ' ')
        dst[--n] = '\0';
}

/* Prints each private key of the slot; returns the slot's token label. */
static void list_keys(CK_SLOT_ID slot, char *token, size_t size)
{
    CK_TOKEN_INFO info;
    CK_SESSION_HANDLE s;
    CK_OBJECT_CLASS class = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE find = { CKA_CLASS, &class, sizeof class };
    CK_OBJECT_HANDLE found[64];
    CK_ULONG n = 0, i;
    char label[256], arn[2048];

    check("C_GetTokenInfo", p11->C_GetTokenInfo(slot, &info));
    if (size <= sizeof info.label)
        die("token label buffer", CKR_GENERAL_ERROR);
    blank_trimmed(token, info.label, sizeof info.label);
    check("C_OpenSession", p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s));
    check("C_FindObjectsInit", p11->C_FindObjectsInit(s, &find, 1));
    check("C_FindObjects", p11->C_FindObjects(s, found, 64, &n));
    check("C_FindObjectsFinal", p11->C_FindObjectsFinal(s));
    for (i = 0; i < n; i++) {
        text_attribute(s, found[i], CKA_LABEL, label, sizeof label);
        text_attribute(s, found[i], CKA_KMS11_KEY_ARN, arn, sizeof arn);
        printf("key %s %s %s\n", token, label, arn);
    }
    check("C_CloseSession", p11->C_CloseSession(s));
}

/* Makes, uses and destroys a key in the slot. */
static void generate_sign_destroy(CK_SLOT_ID slot, const char *label)
{
    static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
    static const char tags[] = "{\"made-by\":\"examples/kms11_keys.c\"}";
    static const char description[] = "a key made by a C program through kms11";
    static const char message[] = "signed through kms11 from C";
    CK_BBOOL yes = CK_TRUE;
    CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_MECHANISM sign = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_ATTRIBUTE public_template[3];
    CK_ATTRIBUTE private_template[4];
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE public_key, private_key;
    CK_BYTE signature[132];
    CK_ULONG signature_len = sizeof signature;
    char arn[2048];

    public_template[0].type = CKA_EC_PARAMS;
    public_template[0].pValue = (void *)p256;
    public_template[0].ulValueLen = sizeof p256;
    public_template[1].type = CKA_VERIFY;
    public_template[1].pValue = &yes;
    public_template[1].ulValueLen = sizeof yes;
    public_template[2].type = CKA_LABEL;
    public_template[2].pValue = (void *)label;
    public_template[2].ulValueLen = (CK_ULONG)strlen(label);
    private_template[0].type = CKA_SIGN;
    private_template[0].pValue = &yes;
    private_template[0].ulValueLen = sizeof yes;
    private_template[1].type = CKA_LABEL;
    private_template[1].pValue = (void *)label;
    private_template[1].ulValueLen = (CK_ULONG)strlen(label);
    private_template[2].type = CKA_KMS11_TAGS;
    private_template[2].pValue = (void *)tags;
    private_template[2].ulValueLen = sizeof tags - 1;
    private_template[3].type = CKA_KMS11_DESCRIPTION;
    private_template[3].pValue = (void *)description;
    private_template[3].ulValueLen = sizeof description - 1;

    check("C_OpenSession",
          p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    check("C_GenerateKeyPair",
          p11->C_GenerateKeyPair(s, &gen, public_template, 3, private_template, 4,
                                 &public_key, &private_key));
    text_attribute(s, private_key, CKA_KMS11_KEY_ARN, arn, sizeof arn);
    printf("generated %s\n", arn);
    check("C_SignInit", p11->C_SignInit(s, &sign, private_key));
    check("C_Sign", p11->C_Sign(s, (CK_BYTE_PTR)message, sizeof message - 1, signature,
                                &signature_len));
    print_hex("message", (const unsigned char *)message, sizeof message - 1);
    print_hex("signature", signature, signature_len);
    check("C_DestroyObject", p11->C_DestroyObject(s, private_key));
    printf("destroyed %s\n", arn);
    check("C_CloseSession", p11->C_CloseSession(s));
}

int main(int argc, char **argv)
{
    void *lib;
    CK_C_GetFunctionList get_function_list;
    CK_SLOT_ID slots[16];
    CK_ULONG count = 16, i;
    char token[64];
    int generated = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: kms11_keys MODULE TOKEN LABEL\n");
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "kms11_keys: %s\n", dlerror());
        return 1;
    }
    /* POSIX: a function pointer from dlsym goes through a data pointer. */
    *(void **)(&get_function_list) = dlsym(lib, "C_GetFunctionList");
    if (get_function_list == NULL) {
        fprintf(stderr, "kms11_keys: no C_GetFunctionList in %s\n", argv[1]);
        return 1;
    }
    check("C_GetFunctionList", get_function_list(&p11));
    check("C_Initialize", p11->C_Initialize(NULL));
    check("C_GetSlotList", p11->C_GetSlotList(CK_TRUE, slots, &count));
    for (i = 0; i < count; i++) {
        list_keys(slots[i], token, sizeof token);
        if (strcmp(token, argv[2]) == 0) {
            generate_sign_destroy(slots[i], argv[3]);
            generated = 1;
        }
    }
    check("C_Finalize", p11->C_Finalize(NULL));
    dlclose(lib);
    if (!generated) {
        fprintf(stderr, "kms11_keys: no token labelled %s\n", argv[2]);
        return 1;
    }
    return 0;
}
