// engine-standin does, in the engine's place, what the engine's Kubernetes executor backend is
// documented to do (docs.2501.ai, "Kubernetes" and "Kubernetes executor"): with the pod's own
// service-account token and the cluster CA named by NODE_EXTRA_CA_CERTS, it creates an executor
// pod in EXECUTOR_MCP_K8S_NAMESPACE, attaches to it over stdin/stdout, exchanges a line and
// deletes the pod. It talks to the in-cluster API directly (no kubectl, no kubeconfig).
//
// It runs the exchange once at start (retrying while the platform's objects settle) and prints
// one JSON line per attempt; then it serves HTTP on :8080: GET /last returns the last result,
// POST /exchange runs another one.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

type result struct {
	Result   string  `json:"result"`
	Step     string  `json:"step,omitempty"`
	Error    string  `json:"error,omitempty"`
	Pod      string  `json:"pod,omitempty"`
	Node     string  `json:"node,omitempty"`
	Sent     string  `json:"sent,omitempty"`
	Received string  `json:"received,omitempty"`
	Deleted  bool    `json:"deleted"`
	Seconds  float64 `json:"seconds"`
}

type client struct {
	base   string
	token  string
	tls    *tls.Config
	http   *http.Client
	ns     string
	image  string
	secret string
}

func main() {
	image := flag.String("executor-image", "", "image of the executor pods")
	pullSecret := flag.String("pull-secret", "", "pull secret to name in executor pods (default: none, the namespace's default ServiceAccount carries the program's)")
	listen := flag.String("listen", ":8080", "HTTP address")
	flag.Parse()

	c, err := newClient(*image, *pullSecret)
	if err != nil {
		emit(result{Result: "error", Step: "config", Error: err.Error()})
	}
	var mu sync.Mutex
	last := result{Result: "pending"}
	run := func() result {
		mu.Lock()
		defer mu.Unlock()
		if c == nil {
			return result{Result: "error", Step: "config", Error: "not configured"}
		}
		last = c.exchange(context.Background())
		emit(last)
		return last
	}
	go func() {
		deadline := time.Now().Add(3 * time.Minute)
		for r := run(); r.Result != "ok" && time.Now().Before(deadline); r = run() {
			time.Sleep(5 * time.Second)
		}
	}()
	http.HandleFunc("/last", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(last)
	})
	http.HandleFunc("/exchange", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		_ = json.NewEncoder(w).Encode(run())
	})
	if err := http.ListenAndServe(*listen, nil); err != nil {
		fmt.Fprintln(os.Stderr, "engine-standin:", err)
		os.Exit(1)
	}
}

func emit(r result) {
	b, _ := json.Marshal(r)
	fmt.Println("executor-exchange " + string(b))
}

func newClient(image, pullSecret string) (*client, error) {
	if b := os.Getenv("EXECUTOR_MCP_BACKEND"); b != "kube" {
		return nil, fmt.Errorf("EXECUTOR_MCP_BACKEND is %q, the kube backend needs \"kube\"", b)
	}
	ns := os.Getenv("EXECUTOR_MCP_K8S_NAMESPACE")
	if ns == "" {
		return nil, errors.New("EXECUTOR_MCP_K8S_NAMESPACE is not set")
	}
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errors.New("KUBERNETES_SERVICE_HOST/PORT are not set: not running in a cluster")
	}
	caFile := os.Getenv("NODE_EXTRA_CA_CERTS")
	if caFile == "" {
		return nil, errors.New("NODE_EXTRA_CA_CERTS is not set")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("NODE_EXTRA_CA_CERTS: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("NODE_EXTRA_CA_CERTS (%s) holds no certificate", caFile)
	}
	token, err := os.ReadFile(saDir + "/token")
	if err != nil {
		return nil, fmt.Errorf("service-account token: %w", err)
	}
	if image == "" {
		return nil, errors.New("--executor-image is not set")
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &client{
		base:   "https://" + net.JoinHostPort(host, port),
		token:  strings.TrimSpace(string(token)),
		tls:    tc,
		http:   &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}},
		ns:     ns,
		image:  image,
		secret: pullSecret,
	}, nil
}

func (c *client) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

type podStatus struct {
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Phase             string `json:"phase"`
		ContainerStatuses []struct {
			State struct {
				Waiting *struct {
					Reason  string `json:"reason"`
					Message string `json:"message"`
				} `json:"waiting"`
			} `json:"state"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

func (c *client) exchange(ctx context.Context) (r result) {
	t0 := time.Now()
	defer func() { r.Seconds = time.Since(t0).Seconds() }()
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	name := "executor-" + hex.EncodeToString(nonce)
	r.Pod = name
	podPath := fmt.Sprintf("/api/v1/namespaces/%s/pods", c.ns)
	spec := map[string]any{
		"restartPolicy":                "Never",
		"automountServiceAccountToken": false,
		"enableServiceLinks":           false,
		"securityContext": map[string]any{
			"runAsNonRoot": true, "runAsUser": 1000, "runAsGroup": 1000,
			"seccompProfile": map[string]any{"type": "RuntimeDefault"},
		},
		"containers": []any{map[string]any{
			"name": "executor", "image": c.image, "stdin": true, "stdinOnce": true,
			"securityContext": map[string]any{
				"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
				"capabilities": map[string]any{"drop": []string{"ALL"}},
			},
		}},
	}
	if c.secret != "" {
		spec["imagePullSecrets"] = []any{map[string]any{"name": c.secret}}
	}
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "labels": map[string]string{"app.kubernetes.io/name": "executor"}},
		"spec":     spec,
	}
	code, body, err := c.do(ctx, http.MethodPost, podPath, pod)
	if err != nil || code != http.StatusCreated {
		return fail(r, "create", code, body, err)
	}
	defer func() {
		r.Deleted = c.remove(ctx, podPath+"/"+name)
		if r.Result == "ok" && !r.Deleted {
			r.Result, r.Step, r.Error = "error", "delete", "the executor pod was not deleted"
		}
	}()

	var st podStatus
	for deadline := time.Now().Add(2 * time.Minute); ; {
		code, body, err = c.do(ctx, http.MethodGet, podPath+"/"+name, nil)
		if err != nil || code != http.StatusOK {
			return fail(r, "get", code, body, err)
		}
		st = podStatus{}
		_ = json.Unmarshal(body, &st)
		if st.Status.Phase == "Running" {
			break
		}
		if time.Now().After(deadline) {
			why := st.Status.Phase
			for _, cs := range st.Status.ContainerStatuses {
				if w := cs.State.Waiting; w != nil {
					why += ": " + w.Reason + " " + w.Message
				}
			}
			return fail(r, "wait-running", 0, nil, errors.New("executor pod not Running: "+why))
		}
		time.Sleep(500 * time.Millisecond)
	}
	r.Node = st.Spec.NodeName

	// Attach over a WebSocket with the channel protocol the API server speaks (kubectl's too).
	q := url.Values{"container": {"executor"}, "stdin": {"true"}, "stdout": {"true"}, "stderr": {"true"}}
	wsURL := "wss" + strings.TrimPrefix(c.base, "https") + podPath + "/" + name + "/attach?" + q.Encode()
	dialer := websocket.Dialer{TLSClientConfig: c.tls, HandshakeTimeout: 15 * time.Second,
		Subprotocols: []string{"v5.channel.k8s.io", "v4.channel.k8s.io"}}
	conn, resp, err := dialer.DialContext(ctx, wsURL, http.Header{"Authorization": {"Bearer " + c.token}})
	if err != nil {
		status := 0
		var b []byte
		if resp != nil {
			status = resp.StatusCode
			b, _ = io.ReadAll(resp.Body)
		}
		return fail(r, "attach", status, b, err)
	}
	defer conn.Close()
	r.Sent = "hello from the engine stand-in " + hex.EncodeToString(nonce)
	if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{0}, []byte(r.Sent+"\n")...)); err != nil {
		return fail(r, "write-stdin", 0, nil, err)
	}
	if conn.Subprotocol() == "v5.channel.k8s.io" {
		_ = conn.WriteMessage(websocket.BinaryMessage, []byte{255, 0}) // close stdin
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var out strings.Builder
	for !strings.Contains(out.String(), "\n") {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return fail(r, "read-stdout", 0, []byte(out.String()), err)
		}
		if len(msg) > 1 && (msg[0] == 1 || msg[0] == 2) {
			out.Write(msg[1:])
		}
		if len(msg) > 1 && msg[0] == 3 {
			return fail(r, "attach-error", 0, msg[1:], nil)
		}
	}
	r.Received = strings.TrimSpace(out.String())
	if !strings.Contains(r.Received, r.Sent) {
		return fail(r, "compare", 0, nil, fmt.Errorf("the executor answered %q", r.Received))
	}
	r.Result = "ok"
	return r
}

func (c *client) remove(ctx context.Context, path string) bool {
	code, _, err := c.do(ctx, http.MethodDelete, path+"?gracePeriodSeconds=0", nil)
	if err != nil || (code != http.StatusOK && code != http.StatusAccepted && code != http.StatusNotFound) {
		return false
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if code, _, err := c.do(ctx, http.MethodGet, path, nil); err == nil && code == http.StatusNotFound {
			return true
		}
	}
	return false
}

func fail(r result, step string, code int, body []byte, err error) result {
	r.Result, r.Step = "error", step
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if code != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", code)
	}
	if len(body) > 0 {
		msg += " " + strings.TrimSpace(string(body))
	}
	r.Error = strings.TrimSpace(msg)
	return r
}
