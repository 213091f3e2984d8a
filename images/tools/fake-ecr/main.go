// fake-ecr is a stand-in for Amazon ECR's GetAuthorizationToken, for the real node's test of the
// pull-secret refresher (test/integration/pull-secret-refresh.test.ts): there is no AWS here.
//
//	fake-ecr PORT
//
// It answers the AWS JSON 1.1 call the AWS SDK makes (POST /, X-Amz-Target
// AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken) with a token whose password is
// FAKE_ECR_PASSWORD and user FAKE_ECR_USER (default "AWS", ECR's; a test registry may need its
// own), valid 12 hours. It refuses a request that is not SigV4-signed
// with the access key id EXPECT_ACCESS_KEY_ID (when set), or that asks for another account than
// EXPECT_REGISTRY_ID (when set), so the test also proves what the refresher sent. It checks no
// signature. Each call is logged (never the password).
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

const target = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"

func main() {
	if len(os.Args) != 2 || os.Getenv("FAKE_ECR_PASSWORD") == "" {
		fmt.Fprintln(os.Stderr, "usage: FAKE_ECR_PASSWORD=... fake-ecr PORT")
		os.Exit(2)
	}
	http.HandleFunc("/", handle)
	fmt.Println("fake-ecr: listening on", os.Args[1])
	if err := http.ListenAndServe(":"+os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, "fake-ecr:", err)
		os.Exit(1)
	}
}

func fail(w http.ResponseWriter, status int, kind, msg string) {
	fmt.Printf("fake-ecr: refused: %s: %s\n", kind, msg)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": kind, "message": msg})
}

func handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != target {
		fail(w, http.StatusBadRequest, "UnknownOperationException", "only "+target+" is served")
		return
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") {
		fail(w, http.StatusForbidden, "MissingAuthenticationTokenException", "the request is not SigV4-signed")
		return
	}
	if want := os.Getenv("EXPECT_ACCESS_KEY_ID"); want != "" && !strings.Contains(auth, "Credential="+want+"/") {
		fail(w, http.StatusForbidden, "UnrecognizedClientException", "signed with another access key id")
		return
	}
	var in struct {
		RegistryIds []string `json:"registryIds"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	if want := os.Getenv("EXPECT_REGISTRY_ID"); want != "" && (len(in.RegistryIds) != 1 || in.RegistryIds[0] != want) {
		fail(w, http.StatusBadRequest, "InvalidParameterException", fmt.Sprintf("registryIds %v, want [%s]", in.RegistryIds, want))
		return
	}
	user := os.Getenv("FAKE_ECR_USER")
	if user == "" {
		user = "AWS"
	}
	token := base64.StdEncoding.EncodeToString([]byte(user + ":" + os.Getenv("FAKE_ECR_PASSWORD")))
	expires := time.Now().Add(12 * time.Hour).Unix()
	fmt.Printf("fake-ecr: token issued for %v\n", in.RegistryIds)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = fmt.Fprintf(w, `{"authorizationData":[{"authorizationToken":%q,"expiresAt":%d,"proxyEndpoint":"https://fake-ecr"}]}`, token, expires)
}
