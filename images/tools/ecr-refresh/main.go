// ecr-refresh is the in-cluster refresher of the platform's ECR pull secret (the CronJob of
// components/pullSecretRefresher.ts). It asks ECR for an authorization token, builds the
// `.dockerconfigjson` document exactly as components/builders/registry.ts does (the shared shape
// is pinned by testdata/dockerconfigjson.golden, which both this program's tests and the
// TypeScript unit tests compare against), and patches the data of every named pull secret.
//
//	ecr-refresh [NAMESPACE/NAME ...]
//
// Settings (environment):
//
//	REGISTRY_HOST   the registry host the document is keyed by (host[:port]), as the program keys it
//	TARGETS         comma-separated NAMESPACE/NAME of the Secrets to patch (when no arguments are given)
//	REGISTRY_ID     optional: the 12-digit AWS account that owns the registry
//	AWS_REGION, the AWS credential chain (environment keys, IRSA web identity, ...), and the SDK's
//	                endpoint overrides AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL: read by the AWS SDK
//	SA_DIR          the service-account folder (token, ca.crt); default the in-cluster one
//	KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT: the API server, as every pod gets them
//
// It talks to the Kubernetes API with plain HTTPS and the pod's own token: a GET of each Secret
// (it must exist and be of type kubernetes.io/dockerconfigjson) and a JSON merge patch of its
// data. It logs what it did, never the token. Any failure is a non-zero exit, after every target
// was tried.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

const pullSecretType = "kubernetes.io/dockerconfigjson"

// Target is one copy of the pull secret.
type Target struct{ Namespace, Name string }

func (t Target) String() string { return t.Namespace + "/" + t.Name }

// Credentials are what ECR's token decodes to.
type Credentials struct{ Username, Password string }

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ecr-refresh:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, log io.Writer) error {
	host := strings.TrimSpace(getenv("REGISTRY_HOST"))
	if host == "" {
		return errors.New("REGISTRY_HOST is required (the registry host the pull secret is keyed by)")
	}
	spec := strings.Join(args, ",")
	if spec == "" {
		spec = getenv("TARGETS")
	}
	targets, err := ParseTargets(spec)
	if err != nil {
		return err
	}
	kube, err := inClusterClient(getenv)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	creds, expires, err := fetchToken(ctx, strings.TrimSpace(getenv("REGISTRY_ID")))
	if err != nil {
		return err
	}
	doc, err := DockerConfigJSON(host, creds)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "ecr-refresh: got a token for %s (expires %s)\n", host, expires)

	var failed []string
	for _, t := range targets {
		if err := kube.patchPullSecret(ctx, t, doc); err != nil {
			fmt.Fprintf(os.Stderr, "ecr-refresh: %s: %v\n", t, err)
			failed = append(failed, t.String())
			continue
		}
		fmt.Fprintf(log, "ecr-refresh: updated %s\n", t)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d pull secret(s) not updated: %s", len(failed), len(targets), strings.Join(failed, ", "))
	}
	fmt.Fprintf(log, "ecr-refresh: %d pull secret(s) updated\n", len(targets))
	return nil
}

// ParseTargets reads "ns/name,ns/name"; at least one, each with both parts.
func ParseTargets(spec string) ([]Target, error) {
	var out []Target
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		ns, name, ok := strings.Cut(item, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("target %q must be NAMESPACE/NAME", item)
		}
		out = append(out, Target{ns, name})
	}
	if len(out) == 0 {
		return nil, errors.New("no pull secret to update: give NAMESPACE/NAME arguments or TARGETS")
	}
	return out, nil
}

// ParseAuthorizationToken decodes ECR's token (base64 of "user:password"), with the rules of
// parseEcrAuthorizationToken in components/builders/registry.ts.
func ParseAuthorizationToken(token string) (Credentials, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Credentials{}, errors.New("ECR returned an empty authorization token")
	}
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return Credentials{}, errors.New("ECR returned an authorization token that is not base64")
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" {
		return Credentials{}, errors.New("ECR returned an authorization token that is not of the form user:password")
	}
	if password == "" {
		return Credentials{}, errors.New("ECR returned an authorization token with an empty password")
	}
	return Credentials{user, password}, nil
}

// dockerAuth keeps the field order of the TypeScript builder (username, password, auth).
type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

// DockerConfigJSON is the document kubelet reads, byte for byte what dockerConfigJson in
// components/builders/registry.ts writes for the same input (JSON.stringify: no spaces, no HTML
// escaping, no trailing newline).
func DockerConfigJSON(server string, c Credentials) (string, error) {
	auth := base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]map[string]dockerAuth{"auths": {server: {c.Username, c.Password, auth}}}); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

func fetchToken(ctx context.Context, registryID string) (Credentials, string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return Credentials{}, "", fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return Credentials{}, "", errors.New("AWS_REGION is required (the registry's region)")
	}
	in := &ecr.GetAuthorizationTokenInput{}
	if registryID != "" {
		in.RegistryIds = []string{registryID}
	}
	out, err := ecr.NewFromConfig(cfg).GetAuthorizationToken(ctx, in)
	if err != nil {
		return Credentials{}, "", fmt.Errorf("ECR GetAuthorizationToken (region %s): %w", cfg.Region, err)
	}
	if len(out.AuthorizationData) == 0 {
		return Credentials{}, "", errors.New("ECR GetAuthorizationToken returned no authorization data")
	}
	d := out.AuthorizationData[0]
	creds, err := ParseAuthorizationToken(aws.ToString(d.AuthorizationToken))
	if err != nil {
		return Credentials{}, "", err
	}
	expires := "unknown"
	if d.ExpiresAt != nil {
		expires = d.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return creds, expires, nil
}

type kubeClient struct {
	base  string
	token string
	http  *http.Client
}

func inClusterClient(getenv func(string) string) (*kubeClient, error) {
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if host == "" {
		return nil, errors.New("KUBERNETES_SERVICE_HOST is not set: run in a pod, or set it with SA_DIR")
	}
	if port == "" {
		port = "443"
	}
	dir := getenv("SA_DIR")
	if dir == "" {
		dir = "/var/run/secrets/kubernetes.io/serviceaccount"
	}
	token, err := os.ReadFile(dir + "/token")
	if err != nil {
		return nil, fmt.Errorf("service-account token: %w (the pod needs its token mounted)", err)
	}
	ca, err := os.ReadFile(dir + "/ca.crt")
	if err != nil {
		return nil, fmt.Errorf("service-account CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s/ca.crt holds no PEM certificate", dir)
	}
	return &kubeClient{
		base:  "https://" + net.JoinHostPort(host, port),
		token: strings.TrimSpace(string(token)),
		http:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}},
	}, nil
}

func (k *kubeClient) call(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, k.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k.token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := k.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		var status struct{ Message string }
		_ = json.Unmarshal(data, &status)
		return nil, fmt.Errorf("%s %s: HTTP %d %s", method, path, res.StatusCode, status.Message)
	}
	return data, nil
}

// patchPullSecret checks that the Secret is a pull secret, then replaces its document. The
// response (which holds the document) is read and dropped, never logged.
func (k *kubeClient) patchPullSecret(ctx context.Context, t Target, doc string) error {
	path := "/api/v1/namespaces/" + url.PathEscape(t.Namespace) + "/secrets/" + url.PathEscape(t.Name)
	data, err := k.call(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return err
	}
	var current struct{ Type string }
	if err := json.Unmarshal(data, &current); err != nil {
		return fmt.Errorf("reading the Secret: %w", err)
	}
	if current.Type != pullSecretType {
		return fmt.Errorf("is of type %q, not %s: not a pull secret, left alone", current.Type, pullSecretType)
	}
	patch, err := json.Marshal(map[string]map[string]string{"data": {".dockerconfigjson": base64.StdEncoding.EncodeToString([]byte(doc))}})
	if err != nil {
		return err
	}
	// Its own field manager, so the Secret's managedFields say who wrote the data last.
	_, err = k.call(ctx, http.MethodPatch, path+"?fieldManager=ecr-refresh", "application/merge-patch+json", patch)
	return err
}
