package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// commandsUsage is the first part of "server -h": what the binary does,
// one line per command.
const commandsUsage = `usage: %[1]s [flags]             run the demo server (no -config: demo clients, a user and curl lines)
       %[1]s clients <command>   manage the clients in the storage: list, add, rotate-secret, delete
       %[1]s keys <command>      manage the signing keys in the storage: list, rotate, retire
       %[1]s hash-secret         read a secret or password on stdin, print the hash for the config
       %[1]s help                print this help

"%[1]s clients -h" and "%[1]s keys -h" list their commands; each command takes -h.

flags:
`

// hashSecretUsage is "server hash-secret -h".
const hashSecretUsage = `usage: server hash-secret < FILE
reads one line (a client secret or a user's password) on stdin and prints
its hash, for secret_hash or password_hash in the config`

// printUsage writes the help of the server: its commands, then fs's flags.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, commandsUsage, invocation())
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

// isHelp reports an argument asking for help rather than naming a command.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// invocation is how the operator runs this binary, for commands printed
// to be run as they are: its path as started, or "go run ./examples/server"
// for a binary go run built in a temporary directory (gone once it stops).
func invocation() string {
	name := os.Args[0]
	if strings.Contains(filepath.ToSlash(name), "/go-build") {
		return "go run ./examples/server"
	}
	return shellQuote(name)
}

// shellSafe are the characters a POSIX shell takes literally.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// adminCommand is a "server clients …" or "server keys …" command line
// that works on the storage spec names, as printed for the operator to
// run. A spec holding a password is shown with it hidden: the line is
// printed, and the operator knows what they passed.
func adminCommand(spec string, args ...string) string {
	line := append([]string{invocation()}, args...)
	if spec != "" && spec != defaultStorage {
		shown := sqlstore.RedactDSN(spec)
		if shown != spec {
			shown += " (your -storage value; the password is hidden here)"
		} else {
			shown = shellQuote(shown)
		}
		line = append(line, "-storage", shown)
	}
	return strings.Join(line, " ")
}
