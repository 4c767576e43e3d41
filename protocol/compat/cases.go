package compat

import (
	"strings"
	"time"
)

// Case is one differential scenario, run on a fresh connection after
// flush_all.
type Case struct {
	Name string
	// Chunks are written in order; a pause between chunks makes the server
	// see them as separate reads.
	Chunks []string
	// Sync waits for each chunk's replies before sending the next, so a
	// chunk can quote "{cas}": the CAS last seen in a reply.
	Sync bool
	// Closes says the server closes the connection; nothing is appended.
	Closes bool
	// Pause replaces the short pause between chunks (for expiry cases).
	Pause time.Duration
}

func rep(s string, n int) string { return strings.Repeat(s, n) }

// memcached's limit for key "big" with flags 0: 48 (item) + 8 (cas) + 3+1
// (key and NUL) + value + 2 (CRLF) <= 1 MiB.
const bigMax = 1<<20 - 48 - 8 - 4 - 2

// DiffCases are the byte streams compared with memcached 1.6.18.
var DiffCases = []Case{
	// Storage commands.
	{Name: "set_get", Chunks: []string{"set a 5 0 3\r\nabc\r\nget a\r\n"}},
	{Name: "set_empty_value", Chunks: []string{"set a 0 0 0\r\n\r\nget a\r\n"}},
	{Name: "set_binary_value", Chunks: []string{"set a 0 0 6\r\n\r\n\x00\xff\r\n\r\nget a\r\n"}},
	{Name: "set_max_flags", Chunks: []string{"set a 4294967295 0 1\r\nx\r\nget a\r\n"}},
	{Name: "set_flags_wrap_32bit", Chunks: []string{"set a 4294967296 0 1\r\nx\r\nget a\r\nset b 4294967297 0 1\r\nx\r\nget b\r\n"}},
	{Name: "set_flags_negative", Chunks: []string{"set a -1 0 1\r\nx\r\nget a\r\n"}},
	{Name: "set_flags_garbage", Chunks: []string{"set a 1x 0 1\r\nx\r\nset a +7 0 1\r\nx\r\nget a\r\n"}},
	{Name: "set_exptime_garbage", Chunks: []string{"set a 0 zz 1\r\nx\r\nget a\r\n"}},
	{Name: "set_negative_length", Chunks: []string{"set a 0 0 -1\r\nx\r\nget a\r\n"}},
	{Name: "set_length_truncated_32bit", Chunks: []string{"set a 0 0 4294967297\r\nx\r\nget a\r\n"}},
	{Name: "set_length_garbage", Chunks: []string{"set a 0 0 z\r\nx\r\n"}},
	{Name: "set_noreply", Chunks: []string{"set a 0 0 1 noreply\r\nx\r\nget a\r\n"}},
	{Name: "set_extra_token_not_noreply", Chunks: []string{"set a 0 0 1 junk\r\nx\r\nget a\r\n"}},
	{Name: "set_too_few_tokens", Chunks: []string{"set a 0 0\r\nset\r\n"}},
	{Name: "set_too_many_tokens", Chunks: []string{"set a 0 0 1 noreply x\r\nx\r\n"}},
	{Name: "set_negative_exptime_expires", Chunks: []string{"set a 0 -1 1\r\nx\r\nget a\r\n"}},
	{Name: "set_past_unix_exptime_expires", Chunks: []string{"set a 0 2592001 1\r\nx\r\nget a\r\n"}},
	{Name: "set_future_unix_exptime", Chunks: []string{"set a 0 4102444800 1\r\nx\r\nget a\r\n"}},
	{Name: "set_relative_exptime", Chunks: []string{"set a 0 2592000 1\r\nx\r\nget a\r\n"}},
	{Name: "set_key_250", Chunks: []string{"set " + rep("k", 250) + " 0 0 1\r\nx\r\nget " + rep("k", 250) + "\r\n"}},
	{Name: "set_key_251", Chunks: []string{"set " + rep("k", 251) + " 0 0 1\r\nx\r\n"}},
	{Name: "set_key_251_noreply", Chunks: []string{"set " + rep("k", 251) + " 0 0 1 noreply\r\nx\r\n"}},
	{Name: "set_tab_in_numbers", Chunks: []string{"set a 0 0 1\t\r\nx\r\nget a\r\n"}},
	{Name: "bad_data_chunk", Chunks: []string{"set a 0 0 1\r\nxyz\r\nget a\r\n"}},
	{Name: "bad_data_chunk_noreply", Chunks: []string{"set a 0 0 1 noreply\r\nxyz\r\nget a\r\n"}},
	{Name: "bad_data_chunk_then_command", Chunks: []string{"set a 0 0 2\r\nabcdget a\r\n"}},
	{Name: "data_without_cr", Chunks: []string{"set a 0 0 2\r\nab\nget a\r\n\r\n"}},
	{Name: "item_at_size_limit", Chunks: []string{"set big 0 0 " + itoa(bigMax) + "\r\n" + rep("v", bigMax) + "\r\nget big\r\n"}},
	{Name: "item_over_size_limit", Chunks: []string{"set big 0 0 " + itoa(bigMax+1) + "\r\n" + rep("v", bigMax+1) + "\r\nget big\r\n"}},
	{Name: "item_over_size_limit_with_flags", Chunks: []string{"set big 1 0 " + itoa(bigMax-3) + "\r\n" + rep("v", bigMax-3) + "\r\nget big\r\n"}},
	{Name: "too_large_set_drops_old_value", Chunks: []string{"set big 0 0 1\r\nx\r\nset big 0 0 2000000\r\n" + rep("v", 2000000) + "\r\nget big\r\n"}},
	{Name: "too_large_add_keeps_old_value", Chunks: []string{"set big 0 0 1\r\nx\r\nadd big 0 0 2000000\r\n" + rep("v", 2000000) + "\r\nget big\r\n"}},
	{Name: "too_large_noreply", Chunks: []string{"set big 0 0 2000000 noreply\r\n" + rep("v", 2000000) + "\r\nget big\r\n"}},
	{Name: "too_large_split_swallow", Chunks: []string{"set big 0 0 1500000\r\n" + rep("v", 700000), rep("v", 800000) + "\r\nget big\r\n"}},
	{Name: "add", Chunks: []string{"add a 0 0 1\r\nx\r\nadd a 0 0 1\r\ny\r\nget a\r\n"}},
	{Name: "add_noreply", Chunks: []string{"add a 0 0 1 noreply\r\nx\r\nadd a 0 0 1 noreply\r\ny\r\nget a\r\n"}},
	{Name: "replace", Chunks: []string{"replace a 0 0 1\r\nx\r\nset a 0 0 1\r\ny\r\nreplace a 3 0 1\r\nz\r\nget a\r\n"}},
	{Name: "append_prepend", Chunks: []string{"append a 0 0 1\r\nx\r\nprepend a 0 0 1\r\nx\r\nset a 7 0 2\r\nmm\r\nappend a 9 0 2\r\nzz\r\nprepend a 9 0 2\r\naa\r\nget a\r\n"}},
	{Name: "append_noreply", Chunks: []string{"set a 0 0 1\r\nx\r\nappend a 0 0 1 noreply\r\ny\r\nget a\r\n"}},
	{Name: "append_bad_chunk", Chunks: []string{"set a 0 0 1\r\nx\r\nappend a 0 0 1\r\nyyy\r\nget a\r\n"}},
	{Name: "gets_then_cas", Sync: true, Chunks: []string{"set a 0 0 1\r\nx\r\ngets a\r\n", "cas a 0 0 1 {cas}\r\ny\r\n", "cas a 0 0 1 {cas}\r\nz\r\nget a\r\n"}},
	{Name: "cas_mismatch_and_missing", Chunks: []string{"set a 0 0 1\r\nx\r\ncas a 0 0 1 999999999\r\ny\r\ncas zz 0 0 1 1\r\ny\r\nget a\r\n"}},
	{Name: "cas_noreply", Sync: true, Chunks: []string{"set a 0 0 1\r\nx\r\ngets a\r\n", "cas a 0 0 1 {cas} noreply\r\ny\r\nget a\r\n"}},
	{Name: "cas_bad_unique", Chunks: []string{"cas a 0 0 1 x\r\ny\r\ncas a 0 0 1 -1\r\ny\r\n"}},
	{Name: "cas_token_count", Chunks: []string{"cas a 0 0 1\r\ny\r\n"}},
	{Name: "gats_then_cas", Sync: true, Chunks: []string{"set a 0 0 1\r\nx\r\ngats 100 a\r\n", "cas a 0 0 1 {cas}\r\ny\r\nget a\r\n"}},

	// Retrieval.
	{Name: "get_multi", Chunks: []string{"set a 1 0 1\r\nx\r\nset b 2 0 2\r\nyy\r\nget a zz b a\r\n"}},
	{Name: "gets_multi", Chunks: []string{"set a 1 0 1\r\nx\r\ngets a zz\r\n"}},
	{Name: "get_no_key", Chunks: []string{"get\r\nget \r\ngets\r\n"}},
	{Name: "get_long_key_drops_hits", Chunks: []string{"set a 0 0 1\r\nx\r\n", "get a " + rep("k", 251) + " a\r\n"}},
	{Name: "get_many_keys", Chunks: []string{"set k7 0 0 1\r\nx\r\nget " + manyKeys(60) + "\r\n"}},
	{Name: "get_extra_spaces", Chunks: []string{"set a 0 0 1\r\nx\r\nget   a    a  \r\n"}},
	{Name: "bget", Chunks: []string{"set a 0 0 1\r\nx\r\nbget a\r\n"}},
	{Name: "gat_touch", Chunks: []string{"set a 0 0 1\r\nx\r\ngat 100 a zz\r\ngat -1 a\r\nget a\r\n"}},
	{Name: "gat_bad_exptime", Chunks: []string{"gat x a\r\ngat\r\ngat 10\r\n"}},
	{Name: "touch", Chunks: []string{"set a 0 0 1\r\nx\r\ntouch a 100\r\ntouch zz 100\r\ntouch a x\r\ntouch a 1 noreply\r\ntouch a\r\nget a\r\n"}},
	{Name: "touch_negative_expires", Chunks: []string{"set a 0 0 1\r\nx\r\ntouch a -1\r\nget a\r\n"}},

	// Delete.
	{Name: "delete", Chunks: []string{"set a 0 0 1\r\nx\r\ndelete a\r\ndelete a\r\nget a\r\n"}},
	{Name: "delete_forms", Chunks: []string{"set a 0 0 1\r\nx\r\ndelete a 0\r\ndelete a 0 noreply\r\ndelete a noreply\r\ndelete a 1\r\ndelete a 1 noreply\r\ndelete a x y\r\ndelete\r\ndelete a b c d\r\n"}},
	{Name: "delete_long_key", Chunks: []string{"delete " + rep("k", 251) + "\r\n"}},

	// incr/decr.
	{Name: "incr_decr", Chunks: []string{"set n 3 0 2\r\n10\r\nincr n 5\r\ndecr n 3\r\ndecr n 100\r\nget n\r\n"}},
	{Name: "decr_pads_shorter_value", Chunks: []string{"set n 0 0 3\r\n100\r\ndecr n 91\r\nget n\r\nincr n 991\r\nget n\r\n"}},
	{Name: "incr_wraps_64bit", Chunks: []string{"set n 0 0 20\r\n18446744073709551615\r\nincr n 1\r\nget n\r\nincr n 18446744073709551615\r\n"}},
	{Name: "incr_non_numeric", Chunks: []string{"set n 0 0 3\r\nabc\r\nincr n 1\r\nset e 0 0 0\r\n\r\nincr e 1\r\nset m 0 0 2\r\n-5\r\nincr m 1\r\n"}},
	{Name: "incr_lenient_values", Chunks: []string{"set n 0 0 3\r\n 12\r\nincr n 1\r\nset m 0 0 4\r\n5 xy\r\nincr m 1\r\nget n m\r\nset p 0 0 2\r\n+4\r\nincr p 1\r\n"}},
	{Name: "incr_missing", Chunks: []string{"incr zz 1\r\ndecr zz 1\r\n"}},
	{Name: "incr_bad_delta", Chunks: []string{"set n 0 0 1\r\n1\r\nincr n x\r\nincr n -1\r\nincr n 18446744073709551616\r\nincr n\r\nincr n 1 2 3\r\n"}},
	{Name: "incr_noreply", Chunks: []string{"set n 0 0 1\r\n1\r\nincr n 5 noreply\r\nincr zz 1 noreply\r\nget n\r\n"}},
	{Name: "incr_long_key", Chunks: []string{"incr " + rep("k", 251) + " 1\r\n"}},

	// Other classic commands.
	{Name: "flush_all_forms", Chunks: []string{"set a 0 0 1\r\nx\r\nflush_all\r\nget a\r\nflush_all 0\r\nflush_all noreply\r\nflush_all 0 noreply\r\nflush_all x\r\nflush_all 1 2 3\r\nflush_all noreply x\r\n"}},
	{Name: "flush_all_delayed", Chunks: []string{"set a 0 0 1\r\nx\r\nflush_all 100\r\nget a\r\n"}},
	{Name: "version", Chunks: []string{"version\r\nversion x\r\n"}},
	{Name: "verbosity", Chunks: []string{"verbosity 1\r\nverbosity\r\nverbosity x\r\nverbosity 1 noreply\r\nverbosity x noreply\r\n"}},
	{Name: "unknown_commands", Chunks: []string{"foo\r\nx\r\nGET a\r\nsetx a\r\ngetx a\r\nmz a\r\nm\r\n"}},
	{Name: "empty_lines", Chunks: []string{"\r\n\n \r\n   \r\n"}},
	{Name: "nul_in_line", Chunks: []string{"set a 0 0 1\r\nx\r\nget a\x00 junk\r\n"}},
	{Name: "bare_newlines", Chunks: []string{"set a 0 0 1\nx\r\nget a\n"}},
	{Name: "extra_cr", Chunks: []string{"set a 0 0 1\r\nx\r\nget a\r\r\n"}},
	{Name: "shutdown_disabled", Chunks: []string{"shutdown\r\n"}},
	{Name: "quit", Closes: true, Chunks: []string{"set a 0 0 1\r\nx\r\nget a\r\nquit\r\nget a\r\n"}},
	{Name: "http_request_closes", Closes: true, Chunks: []string{"GET / HTTP/1.1\r\n"}},
	{Name: "line_too_long_closes", Closes: true, Chunks: []string{rep("x", 3000), "\r\n"}},
	{Name: "long_get_line_allowed", Chunks: []string{"set k7 0 0 1\r\nx\r\n", "get " + manyKeys(900), "\r\n"}},

	// Pipelining and split reads.
	{Name: "pipelined", Chunks: []string{"set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nget a\r\nincr a 5\r\nget a b\r\ndelete b\r\nget b\r\nversion\r\nmn\r\n"}},
	{Name: "split_everywhere", Chunks: []string{"se", "t a 0 0 5\r", "\nhel", "lo\r", "\n", "get", " a\r\n"}},
	{Name: "split_data_crlf", Chunks: []string{"set a 0 0 2\r\nxy\r", "\nget a\r\n"}},

	// Meta commands.
	{Name: "mn", Chunks: []string{"mn\r\nmn x y\r\n"}},
	{Name: "mg_flags", Chunks: []string{"set a 5 0 3\r\nabc\r\nmg a v f s k Oop t q\r\nmg a\r\nmg a c\r\nmg a u\r\nmg a P L\r\n"}},
	{Name: "mg_miss", Chunks: []string{"mg zz v\r\nmg zz v k O1\r\nmg zz q\r\nmg zz q k\r\n"}},
	{Name: "mg_errors", Chunks: []string{"mg\r\nmg a v v\r\nmg a !\r\nmg " + rep("k", 251) + " v\r\nmg a Fx\r\nmg a Tx Ny\r\nmg a O" + rep("o", 32) + "\r\nmg a O" + rep("o", 33) + "\r\n"}},
	{Name: "mg_flag_limit", Chunks: []string{"mg a 1 2 3 4 5 6 7 8 9 A B C D E G H J K\r\nmg a O 2 3 4 5 6 7 8 9 A B C D E G H J K L\r\n"}},
	{Name: "mg_base64", Chunks: []string{"ms Zm9v 3 b\r\nbar\r\nmg foo v\r\nmg Zm9v b v k\r\nmg Zm9v b k q\r\nmg ??? b\r\nmg Zm9 b\r\nmg Zg== b v\r\n"}},
	{Name: "mg_touch", Chunks: []string{"set a 0 0 1\r\nx\r\nmg a T100 t v\r\nmg a t\r\nmg zz T100\r\n"}},
	{Name: "mg_ttl_unlimited", Chunks: []string{"set a 0 0 1\r\nx\r\nmg a t\r\n"}},
	{Name: "mg_vivify", Chunks: []string{"mg a N30 s v\r\nmg a N30 s v\r\nmg a s\r\nset a 0 0 1\r\nx\r\nmg a N30 v\r\n"}},
	{Name: "mg_recache", Chunks: []string{"set a 0 10 1\r\nx\r\nmg a R30 v\r\nmg a R30 v\r\nset b 0 100 1\r\nx\r\nmg b R30 v\r\nset c 0 0 1\r\nx\r\nmg c R30\r\n"}},
	{Name: "md_invalidate", Chunks: []string{"set a 0 0 1\r\nx\r\nmd a I\r\nmg a v\r\nmg a v\r\nmd zz I\r\n"}},
	{Name: "ms_stale_recache", Sync: true, Chunks: []string{"set a 0 0 1\r\nx\r\nmg a c\r\n", "md a I T30\r\nmg a v\r\n", "ms a 1 C{cas} I\r\ny\r\nmg a v\r\n"}},
	{Name: "ms_basic", Chunks: []string{"ms a 3\r\nabc\r\nmg a v f t\r\nms a 2 F7 T0 k O9\r\nxy\r\nmg a v f\r\nms a 1 q\r\nz\r\nmg a v\r\n"}},
	{Name: "ms_modes", Chunks: []string{"ms a 1 ME\r\nx\r\nms a 1 ME\r\ny\r\nms a 1 MA\r\nz\r\nms a 1 MP\r\nw\r\nms b 1 MR\r\nx\r\nms a 1 MR\r\nr\r\nms a 1 MS\r\ns\r\nmg a v\r\nms b 1 MA\r\nq\r\nms b 1 MP\r\nq\r\n"}},
	{Name: "ms_mode_errors", Chunks: []string{"ms a 1 MX\r\nx\r\nms a 1 Mee\r\nx\r\nms a 1 Ms\r\nx\r\nmg a\r\n"}},
	{Name: "ms_cas", Sync: true, Chunks: []string{"ms a 1 c\r\nx\r\n", "ms a 1 C{cas} c\r\ny\r\nms a 1 C999999999 c\r\nz\r\nms zz 1 C5\r\nz\r\nmg a v\r\n"}},
	{Name: "ms_cas_noreply_failures", Chunks: []string{"ms a 1 q\r\nx\r\nms a 1 C999999999 q\r\nz\r\nms zz 1 MR q\r\nz\r\nmg a v\r\n"}},
	{Name: "ms_errors", Chunks: []string{"ms\r\nms a\r\nms a x\r\nxx\r\nms a -1\r\nms " + rep("k", 251) + " 1\r\nx\r\nms a 1 F-1\r\nx\r\nms a 1 v v\r\nx\r\nms a 1 !\r\nx\r\nms a 1 O" + rep("o", 33) + "\r\nx\r\nmg a\r\n"}},
	{Name: "ms_bad_chunk_quiet", Chunks: []string{"ms a 1 q\r\nxyz\r\nmg a v\r\n"}},
	{Name: "ms_too_large", Chunks: []string{"ms big 1\r\nx\r\nms big 2000000 q\r\n" + rep("v", 2000000) + "\r\nmg big v\r\n"}},
	{Name: "ms_flag_limit", Chunks: []string{"ms a 1 1 2 3 4 5 6 7 8 9 A B C D E G H J\r\nx\r\nms a 1 c 2 3 4 5 6 7 8 9 A B C D E G H J K\r\nx\r\n"}},
	{Name: "ms_invalid_base64", Chunks: []string{"ms a 1 b\r\nx\r\nmg a v\r\n"}},
	{Name: "md", Chunks: []string{"set a 0 0 1\r\nx\r\nmd a k O5\r\nmd a\r\nmd a q\r\nset b 0 0 1\r\nx\r\nmd b q\r\nmg b\r\nmd\r\nmd a v v\r\nmd a !\r\nmd " + rep("k", 251) + "\r\n"}},
	{Name: "md_cas", Sync: true, Chunks: []string{"set a 0 0 1\r\nx\r\nmg a c\r\n", "md a C999999999\r\nmd a C{cas}\r\nmg a\r\n"}},
	{Name: "md_base64", Chunks: []string{"ms Zm9v 1 b\r\nx\r\nmd Zm9v b k\r\nmd Zm9v b k\r\n"}},
	{Name: "ma", Chunks: []string{"ma n\r\nma n N0 J10 v\r\nma n v\r\nma n MD D3 v\r\nma n M- D100 v\r\nma n M+ v t\r\nma n MI D5 q\r\nmg n v\r\n"}},
	{Name: "ma_flags", Chunks: []string{"ma n N0 J5 q\r\nma n q\r\nma n k O7 v\r\nma zz k O7\r\nma zz q\r\nma n T100 t v\r\n"}},
	{Name: "ma_cas", Sync: true, Chunks: []string{"set n 0 0 1\r\n5\r\nmg n c\r\n", "ma n C999999999 v\r\nma n C{cas} v c\r\nma n C0 v\r\n"}},
	{Name: "ma_errors", Chunks: []string{"set s 0 0 1\r\nx\r\nma s\r\nma n MX\r\nma n Dx\r\nma n Jx N0\r\nma n v v\r\nma\r\nma " + rep("k", 251) + "\r\nma n E1\r\n"}},
	{Name: "ma_wrap", Chunks: []string{"set n 0 0 20\r\n18446744073709551615\r\nma n v\r\nmg n v\r\n"}},
	{Name: "me", Chunks: []string{"set a 0 0 1\r\nx\r\nme a\r\nme zz\r\nme\r\nme " + rep("k", 251) + "\r\nme Zm9v b\r\nme ??? b\r\n"}},
	{Name: "mg_quiet_pipeline", Chunks: []string{"set b 0 0 1\r\nx\r\nmg a v q\r\nmg b v q k\r\nmg c v q\r\nmn\r\n"}},
	{Name: "noreply_everywhere", Chunks: []string{"set a 0 0 1 noreply\r\n1\r\nadd a 0 0 1 noreply\r\n2\r\nreplace a 0 0 1 noreply\r\n3\r\nappend a 0 0 1 noreply\r\n4\r\nprepend a 0 0 1 noreply\r\n5\r\nincr a 1 noreply\r\ndecr a 1 noreply\r\ntouch a 100 noreply\r\nget a\r\ndelete a noreply\r\nflush_all noreply\r\nget a\r\n"}},
	{Name: "leading_spaces", Chunks: []string{"   set a 0 0 1\r\nx\r\n  get a\r\n"}},
	{Name: "stats_subcommands", Chunks: []string{"stats reset\r\nstats nonsense\r\nstats detail\r\n"}},
	{Name: "flush_all_negative", Chunks: []string{"set a 0 0 1\r\nx\r\nflush_all -1\r\nget a\r\n"}},
	{Name: "pipeline_over_batch_limit", Chunks: []string{manySets(300) + manyGets(300)}},
	{Name: "pipeline_large_values", Chunks: []string{"set a 0 0 700000\r\n" + rep("a", 700000) + "\r\nset b 0 0 700000\r\n" + rep("b", 700000) + "\r\nset c 0 0 700000\r\n" + rep("c", 700000) + "\r\nget a b c\r\n"}},
	{Name: "split_byte_by_byte", Chunks: strings.Split("set a 0 0 2\r\nhi\r\nget a\r\n", "")},
	{Name: "expiry_after_ttl", Pause: 2100 * time.Millisecond, Chunks: []string{"set a 0 1 1\r\nx\r\nset b 0 100 1\r\ny\r\nset c 0 0 1\r\nz\r\ntouch c 1\r\nget a b c\r\n", "get a b c\r\nmg b t v\r\n"}},
	{Name: "meta_split", Chunks: []string{"ms a 5 T0", " F3\r\nhe", "llo\r\nmg a", " v f\r\n"}},
}

func manySets(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("set k" + itoa(i) + " " + itoa(i) + " 0 " + itoa(len(itoa(i))) + "\r\n" + itoa(i) + "\r\n")
	}
	return b.String()
}

func manyGets(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("get k" + itoa(i) + "\r\n")
	}
	return b.String()
}

func manyKeys(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "k" + itoa(i)
	}
	return strings.Join(keys, " ")
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
