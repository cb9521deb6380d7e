/*
 * test_graph_rotation.c - what a managed device's deviceActionResults
 * say of a rotation (graph_rotation_parse): the newest rotateBitLockerKeys
 * entry, its state and error code; other actions, wrong types, a hostile
 * state word and a missing array are each handled.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <cJSON.h>

#include "graph/graph_int.h"

static enum bde_rot_state
state(const char *text, struct bde_rotation *r)
{
	cJSON *doc = cJSON_Parse(text);
	int rc;

	if (doc == NULL)
		fail_msg("bad test JSON: %s", text);
	rc = graph_rotation_parse(doc, r);
	cJSON_Delete(doc);
	assert_int_equal(rc, 0);
	return r->state;
}

static void
test_none(void **unused)
{
	struct bde_rotation r;

	(void)unused;
	assert_int_equal(state("{\"id\":\"x\"}", &r), BDE_ROT_NONE);
	assert_int_equal(state("{\"deviceActionResults\":null}", &r),
	    BDE_ROT_NONE);
	assert_int_equal(state("{\"deviceActionResults\":[{\"actionName\":"
	    "\"syncDevice\",\"actionState\":\"done\"}]}", &r), BDE_ROT_NONE);
	assert_int_equal(r.retry_after, -1);
}

static void
test_states(void **unused)
{
	struct bde_rotation r;

	(void)unused;
	assert_int_equal(state("{\"deviceActionResults\":[{\"actionName\":"
	    "\"rotateBitLockerKeys\",\"actionState\":\"pending\"}]}", &r),
	    BDE_ROT_PENDING);
	assert_string_equal(r.state_text, "pending");
	assert_int_equal(state("{\"deviceActionResults\":[{\"actionName\":"
	    "\"RotateBitLockerKeys\",\"actionState\":\"active\"}]}", &r),
	    BDE_ROT_PENDING);
	assert_int_equal(state("{\"deviceActionResults\":[{\"actionName\":"
	    "\"rotateBitLockerKeys\",\"actionState\":\"done\"}]}", &r),
	    BDE_ROT_DONE);
	assert_int_equal(state("{\"deviceActionResults\":[{\"actionName\":"
	    "\"rotateBitLockerKeys\",\"actionState\":\"failed\",\"errorCode\":"
	    "-2016345060}]}", &r), BDE_ROT_FAILED);
	assert_int_equal(r.error_code, -2016345060LL);
	assert_int_equal(state("{\"deviceActionResults\":[{\"actionName\":"
	    "\"rotateBitLockerKeys\",\"actionState\":\"notSupported\"}]}", &r),
	    BDE_ROT_OTHER);
}

/* Several rotations: the one that started last counts. */
static void
test_newest(void **unused)
{
	struct bde_rotation r;

	(void)unused;
	assert_int_equal(state("{\"deviceActionResults\":["
	    "{\"actionName\":\"rotateBitLockerKeys\",\"actionState\":\"failed\","
	    "\"startDateTime\":\"2026-11-30T11:00:00Z\",\"errorCode\":5},"
	    "{\"actionName\":\"rotateBitLockerKeys\",\"actionState\":\"done\","
	    "\"startDateTime\":\"2026-10-01T11:00:00Z\"}]}", &r),
	    BDE_ROT_FAILED);
	assert_int_equal(r.error_code, 5);
	assert_int_equal(state("{\"deviceActionResults\":["
	    "{\"actionName\":\"rotateBitLockerKeys\",\"actionState\":\"done\","
	    "\"startDateTime\":\"2026-10-01T11:00:00Z\"},"
	    "{\"actionName\":\"rotateBitLockerKeys\",\"actionState\":"
	    "\"pending\",\"startDateTime\":\"2026-11-30T12:00:00Z\","
	    "\"lastUpdatedDateTime\":\"2026-11-30T12:00:05Z\"}]}", &r),
	    BDE_ROT_PENDING);
	assert_true(r.updated > r.started);
}

/* Hostile: wrong types, an escape in the state, a huge error code. */
static void
test_hostile(void **unused)
{
	struct bde_rotation r;
	cJSON *doc;

	(void)unused;
	doc = cJSON_Parse("{\"deviceActionResults\":{\"a\":1}}");
	assert_int_equal(graph_rotation_parse(doc, &r), -1);
	cJSON_Delete(doc);
	doc = cJSON_Parse("[1,2]");
	assert_int_equal(graph_rotation_parse(doc, &r), -1);
	cJSON_Delete(doc);
	assert_int_equal(graph_rotation_parse(NULL, &r), -1);
	assert_int_equal(state("{\"deviceActionResults\":[1,\"x\",null,"
	    "{\"actionName\":5},{\"actionName\":\"rotateBitLockerKeys\","
	    "\"actionState\":7}]}", &r), BDE_ROT_NONE);
	assert_int_equal(state("{\"deviceActionResults\":[{\"actionName\":"
	    "\"rotateBitLockerKeys\",\"actionState\":\"\\u001b[31mdone\\n"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"errorCode\":1e300}]}", &r),
	    BDE_ROT_OTHER);
	assert_string_equal(r.state_text, "mdonexxxxxxxxxxxxxxxxxx");
	assert_int_equal(r.error_code, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_newest),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
