/*
 * recover.c - `bdekey recover`: the BitLocker recovery process as a
 * guided session (Microsoft's "BitLocker recovery process": verify the
 * caller, record device and key ID, locate the password, find the root
 * cause, read it out, rotate it).  Every prompt has an option, so the
 * flow also runs without a terminal.
 */
#include "cmd/audit.h"
#include "cmd/find.h"
#include "cmd/rotate.h"
#include "cmd/tty.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The root-cause questions, each an option and a prompt. */
enum question {
	Q_PROTECTOR,
	Q_BOOT_CHANGE,
	Q_LOST_PROTECTOR,
	Q_LAST_GOOD,
	Q_UNATTENDED,
	Q_COUNT
};

static const char *const protector_choices[] = {
	"tpm", "tpm+pin", "startup-key", "password", "unknown", NULL
};
static const char *const yes_no_unknown[] = { "yes", "no", "unknown", NULL };

static const struct {
	const char *field;	/* audit record field */
	const char *prompt;
	const char *const *choices;	/* NULL: free text */
} questions[Q_COUNT] = {
	[Q_PROTECTOR] = { "protector",
	    "How was the drive unlocked at start-up (tpm, tpm+pin, "
	    "startup-key, password, unknown)? ",
	    protector_choices },
	[Q_BOOT_CHANGE] = { "boot_change",
	    "Were boot files, firmware, BIOS/UEFI settings or the boot order "
	    "changed recently (yes, no, unknown)? ",
	    yes_no_unknown },
	[Q_LOST_PROTECTOR] = { "lost_protector",
	    "Did the user forget the PIN or lose the startup key (yes, no, "
	    "unknown)? ",
	    yes_no_unknown },
	[Q_LAST_GOOD] = { "last_good_start",
	    "When did the device last start normally? ", NULL },
	[Q_UNATTENDED] = { "unattended",
	    "Was the device left unattended or out of the user's hands (yes, "
	    "no, unknown)? ",
	    yes_no_unknown },
};

static const char *const yes_no[] = { "yes", "no", NULL };

struct recover_opts {
	const char *device;
	const char *key_id;
	int choice[Q_COUNT];	/* 1 + index in the question's choices */
	const char *last_good;	/* the free-text answer */
	int rotate;		/* 1 yes, 2 no (yes_no), 0 ask */
	int verified;
	int yes;
	const char *wait;	/* rotate --wait */
	const char *poll;
};

#define RO struct recover_opts
static const struct cmd_option recover_options[] = {
	OPT_BOOL("verified", 0, "the caller's identity has been verified",
	    RO, verified),
	OPT_STRING("device", 'd', "NAME", "the device's name", RO, device),
	OPT_STRING("key-id", 'k', "ID", "the key ID on the recovery screen "
	    "(8+ hex digits)", RO, key_id),
	OPT_REASON("ticket number or reason, for the audit log"),
	OPT_CHOICE("protector", 0, "MODE", "tpm, tpm+pin, startup-key, "
	    "password or unknown", RO, choice[Q_PROTECTOR],
	    protector_choices),
	OPT_CHOICE("boot-change", 0, "ANSWER", "boot files or firmware "
	    "changed: yes, no, unknown", RO, choice[Q_BOOT_CHANGE],
	    yes_no_unknown),
	OPT_CHOICE("lost-protector", 0, "ANSWER", "PIN forgotten or startup "
	    "key lost: yes, no, unknown", RO, choice[Q_LOST_PROTECTOR],
	    yes_no_unknown),
	OPT_STRING("last-good-start", 0, "TEXT", "when the device last started "
	    "normally", RO, last_good),
	OPT_CHOICE("unattended", 0, "ANSWER", "device left unattended: yes, "
	    "no, unknown", RO, choice[Q_UNATTENDED], yes_no_unknown),
	OPT_CHOICE("rotate", 0, "yes|no", "rotate the password afterwards "
	    "(Entra ID devices)", RO, rotate, yes_no),
	OPT_OPTIONAL("wait", 0, "[SECONDS]", "verify the rotation: wait "
	    "(default 600 s) for the new key", RO, wait),
	OPT_STRING("poll", 0, "SECONDS", "with --wait: ask every SECONDS "
	    "(default 15)", RO, poll),
	OPT_SOURCE("ad, graph or all (default: every configured one)"),
	OPT_BOOL("yes", 'y', "confirm the caller is verified and rotate "
	    "without asking; unanswered questions are recorded as unknown",
	    RO, yes),
	OPT_END
};
#undef RO

/* Whether answer is one of choices; choices NULL accepts any text. */
static int
valid_answer(const char *const *choices, const char *answer)
{
	size_t i;

	if (choices == NULL)
		return answer[0] != '\0';
	for (i = 0; choices[i] != NULL; i++)
		if (strcasecmp(choices[i], answer) == 0)
			return 1;
	return 0;
}

static const struct cmd_optgroup recover_group = {
	"options", recover_options
};
static const struct cmd_optgroup *const recover_groups[] = {
	&recover_group, &settings_ad_group, &settings_graph_group,
	&settings_common_group, NULL
};
static const char *const recover_synopsis[] = {
	"[--verified] [--device NAME] [--key-id ID] [--reason TEXT] "
	"[--rotate yes|no [--wait [SECONDS]]] [--yes] [answers]",
	NULL
};

/* The agent's terminal: prompts and answers go through it. */
struct term {
	int fd;		/* /dev/tty, or -1 when not interactive */
	/* typed answers we own: caller, device, key ID (3 tries), reason,
	   the questions (3 tries each), rotation */
	char *answers[4 + 3 * Q_COUNT + 4];
	size_t nanswers;
};

/*
 * Ask on the terminal; returns the answer (owned by t), or NULL at end of
 * input or without a terminal.
 */
static const char *
ask(struct term *t, const char *prompt)
{
	char *a;

	if (t->fd < 0 || t->nanswers == sizeof(t->answers) /
	    sizeof(t->answers[0]))
		return NULL;
	if ((a = tty_ask(t->fd, prompt)) == NULL)
		return NULL;
	t->answers[t->nanswers++] = a;
	return a;
}

/* 1 yes, 0 no, -1 no answer. */
static int
ask_yes(struct term *t, const char *prompt)
{
	const char *a = ask(t, prompt);

	if (a == NULL)
		return -1;
	return a[0] == 'y' || a[0] == 'Y';
}

static void
term_release(struct term *t)
{
	size_t i;

	for (i = 0; i < t->nanswers; i++)
		free(t->answers[i]);
	tty_close(t->fd);
}

/* A required value: the option, else asked; -1 after saying what to give. */
static int
need(struct term *t, const char **val, const char *prompt, const char *opt)
{
	if (*val == NULL)
		*val = ask(t, prompt);
	if (*val == NULL || (*val)[0] == '\0') {
		cmd_warn("recover: %s needed (give %s)", opt + 2, opt);
		*val = NULL;
		return -1;
	}
	return 0;
}

/* Step 4: the device's keys, checked against the ID on the screen. */
static int
locate(struct settings *s, struct recover_opts *ro, unsigned want,
    struct bde_keyid *id, char *key_id, char **device)
{
	struct find_query q;
	struct find f;
	size_t i, matches = 0, m = 0;
	int status = EXIT_NOTFOUND;

	memset(&q, 0, sizeof(q));
	q.device = ro->device;
	if (find_keys(&f, s, want, &q) < 0) {
		status = EXIT_IO;
		goto out;
	}
	find_warn_errors(&f);
	printf("\n3. keys of %s: %zu\n", cmd_safe(ro->device), f.keys.n);
	for (i = 0; i < f.keys.n; i++) {
		char created[21];
		int hit = bde_keyid_match(id, f.keys.v[i].key_id);

		bde_time_format(f.keys.v[i].created, created);
		printf("   %s %s  %s  (%s%s%s)\n", hit ? "*" : " ",
		    f.keys.v[i].key_id, created, f.keys.v[i].source,
		    f.keys.v[i].also ? ", " : "",
		    f.keys.v[i].also ? f.keys.v[i].also : "");
		if (hit) {
			matches++;
			m = i;
		}
	}
	if (matches == 0) {
		/* the screen is right; the device name may not be */
		cmd_warn("recover: warning: key ID %s matches no key of device "
		    "'%s'; searching by key ID alone", ro->key_id, ro->device);
		find_release(&f);
		memset(&q, 0, sizeof(q));
		q.ids = id;
		q.nids = 1;
		if (find_keys(&f, s, want, &q) < 0) {
			status = EXIT_IO;
			goto out;
		}
		find_warn_errors(&f);
		if (f.keys.n == 0) {
			status = find_failure_status(&f);
			cmd_warn("recover: no recovery key has the ID %s",
			    ro->key_id);
			goto out;
		}
		matches = f.keys.n;
		m = 0;
		printf("   key %s belongs to device '%s'\n", f.keys.v[0].key_id,
		    f.keys.v[0].device ? cmd_safe(f.keys.v[0].device) : "?");
	}
	if (matches > 1) {
		cmd_warn("recover: %zu keys start with %s; ask the user for "
		    "more of the key ID", matches, ro->key_id);
		status = EXIT_USAGE;
		goto out;
	}
	memcpy(key_id, f.keys.v[m].key_id, BDE_GUID_LEN + 1);
	*device = strdup(f.keys.v[m].device ? f.keys.v[m].device : ro->device);
	status = *device ? EXIT_OK : EXIT_IO;
out:
	find_release(&f);
	return status;
}

static int
run_recover(struct cmd_ctx *ctx)
{
	struct recover_opts *ro = ctx->opts;
	struct settings *s = ctx->s;
	struct term t = { -1, { NULL }, 0 };
	struct bde_keyid id, full;
	struct find_query fq;
	struct find f;
	struct rotwait_opts wo;
	struct bde_key *k = NULL;
	char key_id[BDE_GUID_LEN + 1], *device = NULL, *err = NULL;
	const char *q, *answer[Q_COUNT];
	cJSON *rec = NULL, *causes;
	int status = EXIT_USAGE, tries, i, v;

	memset(&f, 0, sizeof(f));
	if (rotwait_options("recover", ro->wait, ro->poll, &wo) < 0)
		return EXIT_USAGE;
	for (i = 0; i < Q_COUNT; i++)
		answer[i] = questions[i].choices != NULL && ro->choice[i] > 0 ?
		    questions[i].choices[ro->choice[i] - 1] : NULL;
	answer[Q_LAST_GOOD] = ro->last_good;
	t.fd = tty_open(1);

	printf("BitLocker recovery: a guided case (see bdekey(1), recover)\n");
	printf("\n1. verify the caller's identity\n");
	if (!ro->verified && !ro->yes) {
		v = ask_yes(&t, "   Was the caller's identity verified by your "
		    "policy (yes/no)? ");
		if (v < 0) {
			cmd_warn("recover: give --verified once the caller's "
			    "identity is verified");
			goto out;
		}
		ro->verified = v;
	}
	if (!ro->verified) {
		cmd_warn("recover: the caller's identity is not verified; no "
		    "password is read out");
		goto out;
	}
	printf("   verified\n\n2. device and key ID\n");
	if (need(&t, &ro->device, "   Device name: ", "--device") < 0)
		goto out;
	for (tries = 0;; tries++) {
		if (need(&t, &ro->key_id, "   Key ID on the recovery screen "
		    "(first 8 characters or more): ", "--key-id") < 0)
			goto out;
		if (bde_keyid_parse(ro->key_id, &id, &err) == BDE_OK)
			break;
		cmd_warn("recover: %s", err);
		ro->key_id = NULL;
		if (t.fd < 0 || tries == 2)
			goto out;
	}
	if (s->reason == NULL && (s->require_reason || t.fd >= 0))
		s->reason = ask(&t, "   Ticket number or reason: ");
	if (s->require_reason && (s->reason == NULL || s->reason[0] == '\0')) {
		cmd_warn("recover: a --reason is required ([audit] "
		    "require_reason)");
		goto out;
	}
	printf("   device %s, key ID %s\n", cmd_safe(ro->device),
	    cmd_safe(ro->key_id));

	status = locate(s, ro, ctx->want, &id, key_id, &device);
	if (status != EXIT_OK)
		goto out;

	printf("\n4. root cause\n");
	for (i = 0; i < Q_COUNT; i++) {
		for (tries = 0; answer[i] == NULL && tries < 3; tries++) {
			q = ask(&t, questions[i].prompt);
			if (q == NULL)
				break;
			if (valid_answer(questions[i].choices, q))
				answer[i] = q;
			else
				cmd_warn("recover: '%s' is not an answer", q);
		}
		if (answer[i] == NULL)
			answer[i] = "unknown";
		printf("   %s: %s\n", questions[i].field, cmd_safe(answer[i]));
	}

	/* step 5: read exactly that key's password, recorded first */
	memset(&fq, 0, sizeof(fq));
	fq.ids = &full;
	fq.nids = 1;
	fq.id_flags = BDE_WANT_PASSWORD;
	if (bde_keyid_parse(key_id, &full, &err) != BDE_OK ||
	    find_keys(&f, s, ctx->want, &fq) < 0) {
		status = EXIT_IO;
		goto out;
	}
	find_warn_errors(&f);
	if (f.keys.n == 0) {
		status = find_failure_status(&f);
		goto out;
	}
	k = &f.keys.v[0];
	if (k->pw != BDE_PW_READ) {
		cmd_warn("recover: key %s: no permission to read the password",
		    k->key_id);
		status = EXIT_AUTH;
		goto out;
	}
	rec = audit_record_new("recover", k, find_identity(&f, k->source),
	    s->reason);
	causes = rec ? cJSON_AddObjectToObject(rec, "case") : NULL;
	if (causes == NULL) {
		cmd_warn("out of memory");
		status = EXIT_IO;
		goto out;
	}
	cJSON_AddBoolToObject(causes, "identity_verified", 1);
	cJSON_AddStringToObject(causes, "device_reported", ro->device);
	cJSON_AddStringToObject(causes, "key_id_on_screen", ro->key_id);
	for (i = 0; i < Q_COUNT; i++)
		cJSON_AddStringToObject(causes, questions[i].field,
		    answer[i]);
	/* audit_append frees the record whatever happens */
	v = audit_append(s->audit_log, rec);
	rec = NULL;
	if (v < 0) {
		cmd_warn("recover: the case could not be recorded; not reading "
		    "the password out");
		status = EXIT_IO;
		goto out;
	}
	printf("\n5. read out\n");
	status = cmd_read_out(k);
	if (status != EXIT_OK)
		goto out;

	printf("\n6. rotate\n");
	if (!settings_graph_configured(s)) {
		printf("   not available here (no Entra tenant configured); "
		    "rotate an AD-escrowed password on the device once it "
		    "has started\n");
		goto out;
	}
	if (ro->rotate == 0 && ro->yes)
		ro->rotate = 1;
	if (ro->rotate == 0) {
		v = ask_yes(&t, "   Rotate this device's recovery password "
		    "through Intune now (yes/no)? ");
		ro->rotate = v > 0 ? 1 : 2;
	}
	if (ro->rotate != 1) {
		printf("   not rotated; remember: a password read out should "
		    "be rotated\n");
		goto out;
	}
	/* the Entra device ID when Graph knows the key, else the name */
	status = rotate_device(s, k->device_id ? NULL : device, k->device_id,
	    s->reason, -1, &wo);
out:
	if (rec != NULL)
		cJSON_Delete(rec);
	find_release(&f);
	term_release(&t);
	free(device);
	free(err);
	return status;
}

const struct cmd cmd_recover = {
	.name = "recover",
	.summary = "walk through a recovery case, from caller to rotation",
	.synopsis = recover_synopsis,
	.groups = recover_groups,
	.flags = CMD_SETTINGS | CMD_BACKENDS | CMD_SECRETS,
	.backends = BACKEND_AD | BACKEND_GRAPH,
	.opts_size = sizeof(struct recover_opts),
	.run = run_recover,
};
