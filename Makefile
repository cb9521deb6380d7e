# bdekey - find, check, read out and rotate BitLocker recovery passwords.
#
#   make                      build $(O)/bdekey
#   make check                build and run every test (unit, CLI, AD, Graph)
#   make check SANITIZE=address,undefined
#   make check VALGRIND=1     unit and CLI tests under valgrind's memcheck
#   make DEVELOPER=1          warnings are errors
#   make deps                 install the Debian packages (as root)
#   make install PREFIX=/usr DESTDIR=/tmp/pkg
#   make demo                 the quick tour against the test servers
#   make fuzz                 libFuzzer on every parser (clang), FUZZ_SECONDS each
#   make bench                the benchmarks in bench/

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR ?=
CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
FUZZ_SECONDS ?= 30
SANITIZE ?=
VALGRIND ?=
DEVELOPER ?=

comma := ,
ifneq ($(SANITIZE),)
VARIANT := san-$(subst $(comma),-,$(SANITIZE))
else ifneq ($(DEVELOPER),)
VARIANT := dev
else
VARIANT := rel
endif
O ?= build/$(VARIANT)

# pkg-config module -> Debian package that ships it
PKGS := libcurl libcjson ldap lber libsasl2 libcrypto libbde libbfio blkid libcryptsetup krb5
deb_libcurl := libcurl4-openssl-dev
deb_libcjson := libcjson-dev
deb_ldap := libldap-dev
deb_lber := libldap-dev
deb_libsasl2 := libsasl2-dev
deb_libcrypto := libssl-dev
deb_libbde := libbde-dev
deb_libbfio := libbfio-dev
deb_blkid := libblkid-dev
deb_libcryptsetup := libcryptsetup-dev
deb_krb5 := libkrb5-dev
deb_cmocka := libcmocka-dev

# Everything the build, the tests and the demo use (make deps installs it).
DEB_BUILD := build-essential pkg-config libcurl4-openssl-dev libcjson-dev \
	libldap-dev libsasl2-dev libssl-dev libbde-dev libbfio-dev libblkid-dev \
	libcryptsetup-dev libkrb5-dev
DEB_TEST := libcmocka-dev mandoc cppcheck valgrind clang libclang-rt-14-dev python3 python3-cryptography openssl \
	curl procps samba samba-ad-dc samba-ad-provision winbind python3-samba \
	ldb-tools krb5-user ldap-utils libsasl2-modules time \
	libsasl2-modules-gssapi-mit util-linux bsdutils ncurses-bin \
	fdisk xz-utils tar cryptsetup-bin
DEB_ALL := $(DEB_BUILD) $(DEB_TEST)

# check and demo install what is missing first, then build in a sub-make
# (which sees the new libraries); only the other goals need them now.
NEED_LIBS := $(filter-out deps deps-if-root clean check demo lint fuzz,$(or $(MAKECMDGOALS),all))
ifneq ($(NEED_LIBS),)
MISSING := $(strip $(foreach p,$(PKGS),$(if $(shell $(PKG_CONFIG) --exists $(p) && echo y),,$(p))))
ifneq ($(MISSING),)
$(error missing libraries: $(MISSING); install Debian packages: $(sort $(foreach p,$(MISSING),$(deb_$(p)))) (or run 'make deps' as root))
endif
LIBS_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
# libresolv (DNS SRV lookups) is glibc's: no .pc file, always there
LIBS_LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS)) -lresolv
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wformat=2 -Wno-format-nonliteral -Wvla \
	-Wdeclaration-after-statement -Wno-unused-parameter
ifneq ($(DEVELOPER),)
WARN += -Werror
endif
ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
WARN += -Werror
endif
ifneq ($(FUZZ),)
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS := -O1 -g
endif

ALL_CFLAGS := -std=c11 -pthread -D_DEFAULT_SOURCE -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) \
	-I. $(LIBS_CFLAGS) -MMD -MP
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS) -pthread

LIB_SRCS := $(wildcard core/*.c checksum/*.c http/*.c identity/*.c graph/*.c \
	ldap/*.c keyvault/*.c volume/*.c) $(filter-out cmd/main.c,$(wildcard cmd/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)

.PHONY: deps-if-root all check check-run deps install uninstall \
	clean demo demo-run fuzz fuzz-build bench lint help

all: $(O)/bdekey

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/libbdekey.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(O)/bdekey: $(O)/cmd/main.o $(O)/libbdekey.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_LDLIBS)

$(O)/tests/%: tests/unit/%.c $(O)/libbdekey.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(O)/libbdekey.a \
		$(shell $(PKG_CONFIG) --cflags --libs cmocka) $(LIBS_LDLIBS)

# the volume suite's driver for volume/ (tests/volume/test-volume.sh)
$(O)/tests/voltool: tests/volume/voltool.c $(O)/libbdekey.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(O)/libbdekey.a $(LIBS_LDLIBS)

# `make check` installs what is missing first (a no-op when all is there).
check: deps-if-root
	$(MAKE) --no-print-directory check-run

check-run: $(O)/bdekey $(UNIT_BINS) $(O)/tests/voltool
	BDEKEY=$(abspath $(O)/bdekey) O=$(O) VALGRIND=$(VALGRIND) \
		tests/run-all.sh $(UNIT_BINS)

deps-if-root:
	@tools/deps.sh --check-or-install $(DEB_ALL)

deps:
	@tools/deps.sh --install $(DEB_ALL)

demo: deps-if-root
	$(MAKE) --no-print-directory demo-run

demo-run: $(O)/bdekey
	BDEKEY=$(abspath $(O)/bdekey) tools/demo.sh

# make fuzz: every tests/fuzz/fuzz_NAME.c, linked against the library built
# with clang and -fsanitize=fuzzer-no-link,address,undefined (build/fuzz), run
# FUZZ_SECONDS each on a copy of tests/fuzz/corpus_NAME (tools/fuzz.sh).
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

fuzz:
	$(MAKE) --no-print-directory O=build/fuzz CC=clang FUZZ=1 fuzz-build
	tools/fuzz.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_TARGETS:%=$(O)/fuzz/fuzz_%)

$(O)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(O)/libbdekey.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(O)/libbdekey.a $(LIBS_LDLIBS)

bench: $(O)/bdekey
	BDEKEY=$(abspath $(O)/bdekey) bench/run.sh

# the man pages and cppcheck (configuration: tools/cppcheck.supp)
lint:
	mandoc -T lint -W warning docs/bdekey.1 docs/bdekey.conf.5
	cppcheck -q --std=c11 --enable=warning,style,portability,performance \
		--error-exitcode=1 --inline-suppr \
		--suppressions-list=tools/cppcheck.supp -I. -D_GNU_SOURCE \
		core checksum http identity graph ldap keyvault volume cmd

install: $(O)/bdekey
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(BASHCOMPDIR)
	install -m 755 $(O)/bdekey $(DESTDIR)$(BINDIR)/bdekey
	install -m 644 docs/bdekey.1 $(DESTDIR)$(MANDIR)/man1/bdekey.1
	for f in docs/*.5; do [ -e "$$f" ] || continue; \
		install -m 644 "$$f" $(DESTDIR)$(MANDIR)/man5/; done
	[ ! -e docs/bdekey.bash ] || \
		install -m 644 docs/bdekey.bash $(DESTDIR)$(BASHCOMPDIR)/bdekey

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/bdekey $(DESTDIR)$(MANDIR)/man1/bdekey.1 \
		$(DESTDIR)$(MANDIR)/man5/bdekey.conf.5 \
		$(DESTDIR)$(BASHCOMPDIR)/bdekey

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(O)/cmd/main.d
