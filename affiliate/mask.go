package affiliate

// MaskID hides most of a user id, as affiliates see their referees (docs/CONTRACT.md
// §9): the first character and the last two stay ("u***42"); ids of 3 to 5
// characters keep one at each end, shorter ones nothing.
func MaskID(id string) string {
	switch n := len(id); {
	case n >= 6:
		return id[:1] + "***" + id[n-2:]
	case n >= 3:
		return id[:1] + "***" + id[n-1:]
	}
	return "***"
}
