// Package buildinfo says which build a binary is, for every command's
// -version: the module version, the commit it was built from (and whether
// the tree had changes), the commit's time and the Go release, as the Go
// toolchain stamped them into the binary.
package buildinfo

import (
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
)

// Line is the one-line answer to `CMD -version`.
func Line(cmd string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return cmd + " (no build information)"
	}
	return cmd + " " + describe(bi)
}

func describe(bi *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var parts []string
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if settings["vcs.modified"] == "true" {
			rev += "+changes"
		}
		parts = append(parts, "commit "+rev)
	}
	if t := settings["vcs.time"]; t != "" {
		parts = append(parts, t)
	}
	parts = append(parts, bi.GoVersion)
	return fmt.Sprintf("%s (%s)", version, strings.Join(parts, ", "))
}

// Register adds -version to a command's flags, so that -help lists it;
// the command answers it through Asked before it checks anything else.
func Register(fs *flag.FlagSet) {
	fs.Bool("version", false, "print the version and exit")
}

// Asked reports whether args ask for the version (-version, --version,
// -version=true), wherever they stand among the flags.
func Asked(args []string) bool {
	for _, a := range args {
		switch a {
		case "-version", "--version", "-version=true", "--version=true":
			return true
		case "--":
			return false
		}
	}
	return false
}
