/*
 * fuzz_kube_status.c: two small readers of API-server bytes
 * (kube_client.h): the Status body behind an HTTP error, turned into a
 * log sentence, and base64 from a kubeconfig's -data fields.  Input: the
 * body, used as is for both (not NUL-terminated).
 */
#include <string.h>

#include "fuzz.h"
#include "kube_client.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_blob blob;
	char out[512], tiny[2];
	size_t i;

	kube_status_message((const char *)data, size, out, sizeof(out));
	FUZZ_CHECK(strlen(out) < sizeof(out));
	/* A log line: nothing in it may start a new one or move the
	 * terminal. */
	for (i = 0; out[i] != '\0'; i++)
		FUZZ_CHECK((unsigned char)out[i] >= 0x20 &&
		    (unsigned char)out[i] != 0x7f);
	kube_status_message((const char *)data, size, tiny, sizeof(tiny));
	FUZZ_CHECK(strlen(tiny) < sizeof(tiny));

	if (kube_base64_decode((const char *)data, size, &blob) == JG_OK) {
		FUZZ_CHECK(blob.kb_data != NULL && blob.kb_len > 0);
		FUZZ_CHECK(blob.kb_len <= size / 4 * 3 + 2);
		free(blob.kb_data);
	} else
		FUZZ_CHECK(blob.kb_data == NULL);
	return 0;
}
