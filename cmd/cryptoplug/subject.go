package main

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Bounds on what a user can put in a certificate name.
const (
	maxSubjectLen = 4096
	maxRDNValue   = 256
	maxSANs       = 100
)

// oidDomainComponent is DC (RFC 4519), which pkix.Name has no field for.
var oidDomainComponent = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}

// parseSubject parses a distinguished name as RFC 4514 writes it
// ("CN=web,O=Example\, Inc.,C=DE") or as OpenSSL's -subj does
// ("/CN=web/O=Example"). Attribute names are case-insensitive: CN, O, OU,
// C, L, ST, STREET, POSTALCODE, SERIALNUMBER, DC. A backslash escapes the
// next character. Values are 1 to 256 bytes of UTF-8 without control
// characters. Errors are usage errors that quote no more than the
// attribute name.
func parseSubject(s string) (pkix.Name, error) {
	var n pkix.Name
	if len(s) > maxSubjectLen {
		return n, usagef("--subject is longer than %d bytes", maxSubjectLen)
	}
	if !utf8.ValidString(s) {
		return n, usageErr("--subject is not valid UTF-8")
	}
	sep := ','
	if strings.HasPrefix(s, "/") {
		sep, s = '/', s[1:]
	}
	parts, err := splitEscaped(s, sep)
	if err != nil {
		return n, err
	}
	if len(parts) == 0 {
		return n, usageErr("--subject is empty; give at least CN=…")
	}
	for _, p := range parts {
		key, value, ok := strings.Cut(p, "=")
		key = strings.TrimSpace(key)
		value = strings.TrimSpace(unescape(value))
		if !ok || key == "" {
			return n, usageErr("--subject: want ATTRIBUTE=value pairs separated by commas, such as CN=web,O=Example")
		}
		if value == "" || len(value) > maxRDNValue {
			return n, usagef("--subject: %s must be 1 to %d bytes", key, maxRDNValue)
		}
		for _, r := range value {
			if r < 0x20 || r == 0x7f {
				return n, usagef("--subject: %s holds a control character", key)
			}
		}
		switch strings.ToUpper(key) {
		case "CN":
			if n.CommonName != "" {
				return n, usageErr("--subject: CN appears twice")
			}
			n.CommonName = value
		case "O":
			n.Organization = append(n.Organization, value)
		case "OU":
			n.OrganizationalUnit = append(n.OrganizationalUnit, value)
		case "C":
			if len(value) != 2 {
				return n, usageErr("--subject: C must be a two-letter country code")
			}
			n.Country = append(n.Country, value)
		case "L":
			n.Locality = append(n.Locality, value)
		case "ST":
			n.Province = append(n.Province, value)
		case "STREET":
			n.StreetAddress = append(n.StreetAddress, value)
		case "POSTALCODE":
			n.PostalCode = append(n.PostalCode, value)
		case "SERIALNUMBER":
			n.SerialNumber = value
		case "DC":
			n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidDomainComponent, Value: value})
		default:
			return n, usagef("--subject: unknown attribute %q (known: CN, O, OU, C, L, ST, STREET, POSTALCODE, SERIALNUMBER, DC)", truncateName(key))
		}
	}
	return n, nil
}

// splitEscaped splits s at every sep not preceded by a backslash, keeping
// the escapes for unescape.
func splitEscaped(s string, sep rune) ([]string, error) {
	var (
		parts []string
		cur   strings.Builder
		esc   bool
	)
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune('\\')
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == sep:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	if esc {
		return nil, usageErr("--subject ends with a lone backslash")
	}
	if strings.TrimSpace(cur.String()) != "" || len(parts) > 0 {
		parts = append(parts, cur.String())
	}
	return parts, nil
}

// unescape removes the backslash before each escaped character.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	esc := false
	for _, r := range s {
		if r == '\\' && !esc {
			esc = true
			continue
		}
		esc = false
		b.WriteRune(r)
	}
	return b.String()
}

func truncateName(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// sans are a certificate's subject alternative names.
type sans struct {
	dns, ip, email, uri []string
}

// resolve checks the names and returns them in x509's types.
func (s sans) resolve() (dns []string, ips []net.IP, emails []string, uris []*url.URL, err error) {
	if len(s.dns)+len(s.ip)+len(s.email)+len(s.uri) > maxSANs {
		return nil, nil, nil, nil, usagef("at most %d subject alternative names", maxSANs)
	}
	for _, d := range s.dns {
		if d == "" || len(d) > 253 || strings.ContainsAny(d, " \t\r\n/\\@") {
			return nil, nil, nil, nil, usagef("--dns %q is not a DNS name", truncateName(d))
		}
		dns = append(dns, d)
	}
	for _, v := range s.ip {
		ip := net.ParseIP(v)
		if ip == nil {
			return nil, nil, nil, nil, usagef("--ip %q is not an IP address", truncateName(v))
		}
		ips = append(ips, ip)
	}
	for _, e := range s.email {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e {
			return nil, nil, nil, nil, usagef("--email %q is not an address", truncateName(e))
		}
		emails = append(emails, e)
	}
	for _, v := range s.uri {
		u, err := url.Parse(v)
		if err != nil || u.Scheme == "" || len(v) > 2048 {
			return nil, nil, nil, nil, usagef("--uri %q is not an absolute URI", truncateName(v))
		}
		uris = append(uris, u)
	}
	return dns, ips, emails, uris, nil
}
