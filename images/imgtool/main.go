// imgtool builds container images without a Docker engine and pushes them to a registry.
// It is the project's own small tool for the real node (docs/real-node.md):
//
//	imgtool image --ref REF --out FILE.tar [--base IMAGE.tar] --layer ROOTFS.tar [--layer ...]
//	        [--entrypoint JSON] [--cmd JSON] [--user UID:GID] [--env K=V ...] [--workdir DIR]
//	    writes a docker-archive tarball (what `ctr images import` reads) of an image whose
//	    layers are the given uncompressed tars (on top of the base image's layers, whose
//	    config is not kept), with a fixed creation time, so the same inputs give the same
//	    image digest.
//	imgtool push --tar FILE.tar --to REF --username U --password-file F [--ca CA.crt]
//	    pushes that image to a registry with basic authentication over TLS.
//	imgtool htpasswd USER PASSWORD-FILE
//	    prints an htpasswd line (bcrypt) for the registry's authentication.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/crypto/bcrypt"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: imgtool image|push|htpasswd ... (see the header of images/imgtool/main.go)"))
	}
	var err error
	switch os.Args[1] {
	case "image":
		err = image(os.Args[2:])
	case "push":
		err = push(os.Args[2:])
	case "htpasswd":
		err = htpasswd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "imgtool:", err)
	os.Exit(1)
}

func jsonList(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("%q is not a JSON list of strings: %w", s, err)
	}
	return out, nil
}

func image(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	ref := fs.String("ref", "", "image reference recorded in the tarball")
	out := fs.String("out", "", "output tarball")
	entrypoint := fs.String("entrypoint", "", "entrypoint, a JSON list")
	cmd := fs.String("cmd", "", "command, a JSON list")
	user := fs.String("user", "", "user (uid:gid)")
	workdir := fs.String("workdir", "", "working directory")
	base := fs.String("base", "", "a tarball written by `imgtool image` whose layers come first")
	var layers, env multi
	fs.Var(&layers, "layer", "an uncompressed layer tar (repeatable, lowest first)")
	fs.Var(&env, "env", "K=V (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ref == "" || *out == "" || len(layers) == 0 {
		return errors.New("image needs --ref, --out and at least one --layer")
	}
	tag, err := name.NewTag(*ref)
	if err != nil {
		return err
	}
	img := empty.Image
	if *base != "" {
		b, err := tarball.ImageFromPath(*base, nil)
		if err != nil {
			return fmt.Errorf("base %s: %w", *base, err)
		}
		bl, err := b.Layers()
		if err != nil {
			return fmt.Errorf("base %s: %w", *base, err)
		}
		if img, err = mutate.AppendLayers(img, bl...); err != nil {
			return err
		}
	}
	for _, l := range layers {
		layer, err := tarball.LayerFromFile(l, tarball.WithCompressionLevel(6))
		if err != nil {
			return fmt.Errorf("layer %s: %w", l, err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg := cf.DeepCopy()
	cfg.Architecture = "amd64"
	cfg.OS = "linux"
	cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	if cfg.Config.Entrypoint, err = jsonList(*entrypoint); err != nil {
		return err
	}
	if cfg.Config.Cmd, err = jsonList(*cmd); err != nil {
		return err
	}
	cfg.Config.User = *user
	cfg.Config.WorkingDir = *workdir
	cfg.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	if img, err = mutate.CreatedAt(img, v1.Time{Time: time.Unix(0, 0).UTC()}); err != nil {
		return err
	}
	tmp := *out + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Println(d.String())
	return os.Rename(tmp, *out)
}

func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	tarPath := fs.String("tar", "", "image tarball written by `imgtool image`")
	to := fs.String("to", "", "destination reference (host:port/repo:tag)")
	user := fs.String("username", "", "registry user")
	pwFile := fs.String("password-file", "", "file holding the registry password")
	ca := fs.String("ca", "", "CA certificate the registry's TLS certificate is signed by")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tarPath == "" || *to == "" {
		return errors.New("push needs --tar and --to")
	}
	img, err := tarball.ImageFromPath(*tarPath, nil)
	if err != nil {
		return err
	}
	ref, err := name.ParseReference(*to)
	if err != nil {
		return err
	}
	opts := []remote.Option{}
	if *user != "" {
		pw, err := os.ReadFile(*pwFile)
		if err != nil {
			return err
		}
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: *user, Password: strings.TrimSpace(string(pw))}))
	}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", *ca)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts = append(opts, remote.WithTransport(tr))
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Println(d.String())
	return nil
}

func htpasswd(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: imgtool htpasswd USER PASSWORD-FILE")
	}
	pw, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(strings.TrimSpace(string(pw))), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	fmt.Printf("%s:%s\n", args[0], h)
	return nil
}
