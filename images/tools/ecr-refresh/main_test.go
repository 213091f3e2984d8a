package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The input of testdata/dockerconfigjson.golden; test/unit/pullSecretRefresh.test.ts feeds the
// same input to the TypeScript builder and compares with the same file.
const (
	goldenServer   = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
	goldenUser     = "AWS"
	goldenPassword = "p&<>ss:wörd/+="
)

func TestDockerConfigJSONMatchesTheTypeScriptBuilder(t *testing.T) {
	want, err := os.ReadFile("testdata/dockerconfigjson.golden")
	if err != nil {
		t.Fatal(err)
	}
	got, err := DockerConfigJSON(goldenServer, Credentials{goldenUser, goldenPassword})
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("document differs from the TypeScript builder's:\n got %s\nwant %s", got, want)
	}
}

func TestParseAuthorizationToken(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	c, err := ParseAuthorizationToken(enc("AWS:a:b"))
	if err != nil || c.Username != "AWS" || c.Password != "a:b" {
		t.Fatalf("got %+v, %v", c, err)
	}
	for name, tok := range map[string]string{"empty": " ", "not base64": "%%%", "no colon": enc("AWS"), "no user": enc(":pw"), "no password": enc("AWS:")} {
		if _, err := ParseAuthorizationToken(tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets(" a/x, b/x ,")
	if err != nil || len(got) != 2 || got[1] != (Target{"b", "x"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "a", "/x", "a/", "a/b/c"} {
		if _, err := ParseTargets(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A fake ECR (the JSON 1.1 call the SDK makes) and a fake API server over TLS: the program
// gets the token through the SDK's endpoint override, patches the pull secrets, refuses a
// Secret of another type, exits with an error for it, and prints no password.
func TestRunEndToEnd(t *testing.T) {
	const password = "fresh-ecr-password"
	var ecrCalls []string
	fakeECR := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ecrCalls = append(ecrCalls, r.Header.Get("X-Amz-Target")+" "+string(body))
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		token := base64.StdEncoding.EncodeToString([]byte("AWS:" + password))
		_, _ = io.WriteString(w, `{"authorizationData":[{"authorizationToken":"`+token+`","expiresAt":1.8E9,"proxyEndpoint":"https://x"}]}`)
	}))
	defer fakeECR.Close()

	var mu sync.Mutex
	secrets := map[string]map[string]any{
		"/api/v1/namespaces/eng/secrets/pull": {"type": pullSecretType},
		"/api/v1/namespaces/ex/secrets/pull":  {"type": pullSecretType},
		"/api/v1/namespaces/eng/secrets/app":  {"type": "Opaque"},
	}
	patched := map[string]string{}
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer sa-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		s, ok := secrets[r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"not found"}`)
			return
		}
		switch r.Method {
		case http.MethodGet:
			_ = json.NewEncoder(w).Encode(s)
		case http.MethodPatch:
			if r.Header.Get("Content-Type") != "application/merge-patch+json" || r.URL.Query().Get("fieldManager") != "ecr-refresh" {
				w.WriteHeader(http.StatusUnsupportedMediaType)
				return
			}
			var p struct{ Data map[string]string }
			_ = json.NewDecoder(r.Body).Decode(&p)
			patched[r.URL.Path] = p.Data[".dockerconfigjson"]
			_ = json.NewEncoder(w).Encode(s)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
	defer api.Close()

	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "token"), []byte("sa-token\n"), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw}), 0o600)
	u, _ := url.Parse(api.URL)
	env := map[string]string{
		"REGISTRY_HOST": "registry.example:5000", "REGISTRY_ID": "123456789012",
		"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKE", "AWS_SECRET_ACCESS_KEY": "fake",
		"AWS_ENDPOINT_URL_ECR": fakeECR.URL, "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
		"AWS_EC2_METADATA_DISABLED": "true",
		"SA_DIR":                    dir, "KUBERNETES_SERVICE_HOST": u.Hostname(), "KUBERNETES_SERVICE_PORT": u.Port(),
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var log bytes.Buffer
	err := run(context.Background(), []string{"eng/pull", "ex/pull"}, os.Getenv, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if len(ecrCalls) != 1 || !strings.HasPrefix(ecrCalls[0], "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken ") || !strings.Contains(ecrCalls[0], `"registryIds":["123456789012"]`) {
		t.Fatalf("ECR calls: %q", ecrCalls)
	}
	want, _ := DockerConfigJSON("registry.example:5000", Credentials{"AWS", password})
	for _, p := range []string{"/api/v1/namespaces/eng/secrets/pull", "/api/v1/namespaces/ex/secrets/pull"} {
		got, _ := base64.StdEncoding.DecodeString(patched[p])
		if string(got) != want {
			t.Errorf("%s: patched %q, want %q", p, got, want)
		}
	}
	if strings.Contains(log.String(), password) || strings.Contains(log.String(), base64.StdEncoding.EncodeToString([]byte("AWS:"+password))) {
		t.Errorf("the log shows the token: %s", log.String())
	}

	// A Secret of another type is left alone, and the run fails after trying every target.
	delete(patched, "/api/v1/namespaces/eng/secrets/pull")
	err = run(context.Background(), []string{"eng/app", "eng/pull", "eng/missing"}, os.Getenv, &log)
	if err == nil || !strings.Contains(err.Error(), "2 of 3") {
		t.Fatalf("want a failure for 2 of 3 targets, got %v", err)
	}
	if _, ok := patched["/api/v1/namespaces/eng/secrets/app"]; ok {
		t.Error("patched a Secret that is not a pull secret")
	}
	if _, ok := patched["/api/v1/namespaces/eng/secrets/pull"]; !ok {
		t.Error("a failing target stopped the others")
	}
}
