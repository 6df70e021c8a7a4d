// Command validate checks the Kubernetes manifests in deploy/kubernetes without a cluster.
//
// Every document is decoded strictly against the Kubernetes API types (k8s.io/api), the way an
// API server with field validation "Strict" would: an unknown or misspelled field, a duplicate
// field or a value of the wrong type is an error. Then the objects are checked against each other
// and against edgebox: selectors match the pod labels, probes and the Service name a port the
// container has, every secret and config reference resolves, the pod meets the "restricted" Pod
// Security Standard, the probes are /health and /ready, the grace period covers preStop +
// server.drainDelay + server.shutdownTimeout + a margin, and a config with more than one replica
// uses no embedded (sqlite or filesystem) backend.
//
// Usage: validate [-config-out FILE] [-env-out FILE] DIR
//
// -config-out writes the ConfigMap's edgebox.yaml and -env-out the container's environment as it
// would be in the pod (KEY=VALUE lines, secrets resolved from the Secret's placeholder values), so
// `edgebox check` can run on exactly what a pod would load.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// configKey is the ConfigMap key holding edgebox's config file.
const configKey = "edgebox.yaml"

// minMargin is what the grace period must leave after preStop, drainDelay and shutdownTimeout
// for the plugins to stop.
const minMarginSeconds = 10

// edgeboxUser is the image's numeric USER.
const edgeboxUser = 65532

type manifests struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  []*corev1.ConfigMap
	secrets     []*corev1.Secret
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
}

// problems collects every finding instead of stopping at the first.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func main() {
	configOut := flag.String("config-out", "", "write the ConfigMap's edgebox.yaml to this file")
	envOut := flag.String("env-out", "", "write the container's environment (KEY=VALUE lines) to this file")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: validate [-config-out FILE] [-env-out FILE] DIR")
		os.Exit(2)
	}
	var found problems
	m, files := load(flag.Arg(0), &found)
	if len(found) == 0 {
		check(m, &found)
	}
	if len(found) == 0 && *configOut != "" {
		if err := os.WriteFile(*configOut, []byte(m.configMaps[0].Data[configKey]), 0o600); err != nil {
			found.add("%v", err)
		}
	}
	if len(found) == 0 && *envOut != "" {
		if err := os.WriteFile(*envOut, []byte(podEnv(m)), 0o600); err != nil {
			found.add("%v", err)
		}
	}
	if len(found) > 0 {
		for _, problem := range found {
			fmt.Fprintf(os.Stderr, "deploy/kubernetes: %s\n", problem)
		}
		os.Exit(1)
	}
	fmt.Printf("deploy/kubernetes: ok (%d files: %s)\n", len(files), strings.Join(files, ", "))
}

func newDecoder() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

// load decodes every document of every *.yaml file in dir.
func load(dir string, found *problems) (*manifests, []string) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		found.add("no *.yaml files in %s", dir)
		return nil, nil
	}
	sort.Strings(paths)
	decoder := newDecoder()
	m := &manifests{}
	var files []string
	for _, path := range paths {
		name := filepath.Base(path)
		files = append(files, name)
		content, err := os.ReadFile(path)
		if err != nil {
			found.add("%s: %v", name, err)
			continue
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(content)))
		for index := 1; ; index++ {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				found.add("%s: document %d: %v", name, index, err)
				break
			}
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			object, gvk, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				found.add("%s: document %d: %v", name, index, err)
				continue
			}
			switch typed := object.(type) {
			case *appsv1.Deployment:
				m.deployments = append(m.deployments, typed)
			case *corev1.Service:
				m.services = append(m.services, typed)
			case *corev1.ConfigMap:
				m.configMaps = append(m.configMaps, typed)
			case *corev1.Secret:
				m.secrets = append(m.secrets, typed)
			case *policyv1.PodDisruptionBudget:
				m.pdbs = append(m.pdbs, typed)
			case *autoscalingv2.HorizontalPodAutoscaler:
				m.hpas = append(m.hpas, typed)
			default:
				found.add("%s: document %d: unexpected kind %s", name, index, gvk)
			}
		}
	}
	if len(*found) > 0 {
		return m, files
	}
	counts := []struct {
		kind  string
		count int
	}{
		{"ConfigMap", len(m.configMaps)}, {"Secret", len(m.secrets)},
		{"Deployment", len(m.deployments)}, {"Service", len(m.services)},
		{"PodDisruptionBudget", len(m.pdbs)}, {"HorizontalPodAutoscaler", len(m.hpas)},
	}
	for _, c := range counts {
		if c.count != 1 {
			found.add("expected one %s, found %d", c.kind, c.count)
		}
	}
	return m, files
}

func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

func check(m *manifests, found *problems) {
	deployment := m.deployments[0]
	pod := &deployment.Spec.Template
	podLabels := labels.Set(pod.Labels)
	if len(pod.Spec.Containers) != 1 {
		found.add("deployment %s: expected one container, found %d", deployment.Name, len(pod.Spec.Containers))
		return
	}
	container := &pod.Spec.Containers[0]

	selects := func(what string, selector *metav1.LabelSelector) {
		if selector == nil {
			found.add("%s: no selector", what)
			return
		}
		parsed, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			found.add("%s: selector: %v", what, err)
		} else if parsed.Empty() || !parsed.Matches(podLabels) {
			found.add("%s: selector %s does not match the pod labels %s", what, parsed, podLabels)
		}
	}
	selects("deployment "+deployment.Name, deployment.Spec.Selector)

	ports := map[string]int32{}
	for _, port := range container.Ports {
		ports[port.Name] = port.ContainerPort
	}

	// Service.
	service := m.services[0]
	if len(service.Spec.Selector) == 0 || !labels.SelectorFromSet(service.Spec.Selector).Matches(podLabels) {
		found.add("service %s: selector %v does not match the pod labels %s", service.Name, service.Spec.Selector, podLabels)
	}
	for _, port := range service.Spec.Ports {
		if port.TargetPort.Type == 1 { // a name
			if _, ok := ports[port.TargetPort.StrVal]; !ok {
				found.add("service %s: targetPort %q is not a port of the container", service.Name, port.TargetPort.StrVal)
			}
		} else if !hasPortNumber(ports, port.TargetPort.IntVal) {
			found.add("service %s: targetPort %d is not a port of the container", service.Name, port.TargetPort.IntVal)
		}
	}

	// PodDisruptionBudget and HorizontalPodAutoscaler.
	pdb := m.pdbs[0]
	selects("poddisruptionbudget "+pdb.Name, pdb.Spec.Selector)
	hpa := m.hpas[0]
	target := hpa.Spec.ScaleTargetRef
	if target.Kind != "Deployment" || target.APIVersion != "apps/v1" || target.Name != deployment.Name {
		found.add("horizontalpodautoscaler %s: scaleTargetRef %s %s/%s is not the Deployment %s", hpa.Name, target.APIVersion, target.Kind, target.Name, deployment.Name)
	}
	minReplicas := int32(1)
	if hpa.Spec.MinReplicas != nil {
		minReplicas = *hpa.Spec.MinReplicas
	}
	if pdb.Spec.MinAvailable != nil && int32(pdb.Spec.MinAvailable.IntValue()) >= minReplicas {
		found.add("poddisruptionbudget %s: minAvailable %s leaves no pod to evict at the autoscaler's %d replicas (drains would block)", pdb.Name, pdb.Spec.MinAvailable.String(), minReplicas)
	}
	for _, metric := range hpa.Spec.Metrics {
		if metric.Resource != nil {
			if _, ok := container.Resources.Requests[metric.Resource.Name]; !ok {
				found.add("horizontalpodautoscaler %s: scales on %s, which the container does not request", hpa.Name, metric.Resource.Name)
			}
		}
	}

	// Probes.
	probe := func(what string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			found.add("container %s: %s is not an httpGet probe", container.Name, what)
			return
		}
		if p.HTTPGet.Path != path {
			found.add("container %s: %s probes %q, expected %q", container.Name, what, p.HTTPGet.Path, path)
		}
		if p.HTTPGet.Port.Type == 1 {
			if _, ok := ports[p.HTTPGet.Port.StrVal]; !ok {
				found.add("container %s: %s port %q is not a port of the container", container.Name, what, p.HTTPGet.Port.StrVal)
			}
		} else if !hasPortNumber(ports, p.HTTPGet.Port.IntVal) {
			found.add("container %s: %s port %d is not a port of the container", container.Name, what, p.HTTPGet.Port.IntVal)
		}
	}
	probe("startupProbe", container.StartupProbe, "/health")
	probe("livenessProbe", container.LivenessProbe, "/health")
	probe("readinessProbe", container.ReadinessProbe, "/ready")

	checkSecurity(&pod.Spec, container, found)

	if container.Resources.Requests.Cpu().IsZero() || container.Resources.Requests.Memory().IsZero() {
		found.add("container %s: requests cpu and memory", container.Name)
	}
	if container.Resources.Limits.Memory().IsZero() {
		found.add("container %s: needs a memory limit", container.Name)
	}

	// References: env from the Secret, volumes, the config file the args name.
	secret := m.secrets[0]
	for _, env := range container.Env {
		if env.ValueFrom == nil {
			continue
		}
		ref := env.ValueFrom.SecretKeyRef
		if ref == nil {
			found.add("container %s: env %s: only secretKeyRef is expected", container.Name, env.Name)
			continue
		}
		if ref.Name != secret.Name || !secretHas(secret, ref.Key) {
			found.add("container %s: env %s refers to secret %s key %s, which is not in secret.yaml", container.Name, env.Name, ref.Name, ref.Key)
		}
	}
	configMap := m.configMaps[0]
	volumes := map[string]*corev1.Volume{}
	for i := range pod.Spec.Volumes {
		volume := &pod.Spec.Volumes[i]
		volumes[volume.Name] = volume
		if volume.ConfigMap != nil {
			if volume.ConfigMap.Name != configMap.Name {
				found.add("volume %s: configMap %s is not configmap.yaml's %s", volume.Name, volume.ConfigMap.Name, configMap.Name)
			}
			for _, item := range volume.ConfigMap.Items {
				if _, ok := configMap.Data[item.Key]; !ok {
					found.add("volume %s: configMap key %s is not in configmap.yaml", volume.Name, item.Key)
				}
			}
		}
	}
	configFile := ""
	for i, arg := range container.Args {
		if arg == "--config" && i+1 < len(container.Args) {
			configFile = container.Args[i+1]
		}
	}
	configMounted := false
	for _, mount := range container.VolumeMounts {
		volume, ok := volumes[mount.Name]
		if !ok {
			found.add("container %s: volumeMount %s names no volume", container.Name, mount.Name)
			continue
		}
		if volume.ConfigMap != nil && mount.SubPath == "" {
			for _, item := range volume.ConfigMap.Items {
				if filepath.Join(mount.MountPath, item.Path) == configFile && item.Key == configKey {
					configMounted = true
				}
			}
		}
	}
	if !configMounted {
		found.add("container %s: --config %q is not the ConfigMap's %s as mounted", container.Name, configFile, configKey)
	}

	checkEdgebox(m, deployment, container, found)
}

func hasPortNumber(ports map[string]int32, number int32) bool {
	for _, port := range ports {
		if port == number {
			return true
		}
	}
	return false
}

func secretHas(secret *corev1.Secret, key string) bool {
	if _, ok := secret.StringData[key]; ok {
		return true
	}
	_, ok := secret.Data[key]
	return ok
}

// checkSecurity holds the pod to the "restricted" Pod Security Standard and the image's user.
func checkSecurity(spec *corev1.PodSpec, container *corev1.Container, found *problems) {
	pod := spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	sc := container.SecurityContext
	if sc == nil {
		found.add("container %s: no securityContext", container.Name)
		return
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	if !isTrue(sc.RunAsNonRoot) && !isTrue(pod.RunAsNonRoot) {
		found.add("container %s: runAsNonRoot must be true", container.Name)
	}
	user := sc.RunAsUser
	if user == nil {
		user = pod.RunAsUser
	}
	if user == nil || *user != edgeboxUser {
		found.add("container %s: runAsUser must be %d (the image's USER)", container.Name, edgeboxUser)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		found.add("container %s: allowPrivilegeEscalation must be false", container.Name)
	}
	if isTrue(sc.Privileged) {
		found.add("container %s: must not be privileged", container.Name)
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		found.add("container %s: readOnlyRootFilesystem must be true", container.Name)
	}
	dropsAll := false
	if sc.Capabilities != nil {
		for _, capability := range sc.Capabilities.Drop {
			dropsAll = dropsAll || capability == "ALL"
		}
		if len(sc.Capabilities.Add) > 0 {
			found.add("container %s: adds capabilities %v", container.Name, sc.Capabilities.Add)
		}
	}
	if !dropsAll {
		found.add("container %s: capabilities must drop ALL", container.Name)
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = pod.SeccompProfile
	}
	if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
		found.add("container %s: seccompProfile must be RuntimeDefault", container.Name)
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		found.add("pod: must not share the host's network, PID or IPC namespace")
	}
	for _, volume := range spec.Volumes {
		if volume.HostPath != nil {
			found.add("volume %s: hostPath is not allowed", volume.Name)
		}
	}
}

// edgeboxConfig is the part of edgebox.yaml this check reads.
type edgeboxConfig struct {
	Server struct {
		ShutdownTimeout any `json:"shutdownTimeout"`
		DrainDelay      any `json:"drainDelay"`
	} `json:"server"`
	Plugins map[string]map[string]any `json:"plugins"`
}

// checkEdgebox checks the Deployment against the edgebox config it mounts.
func checkEdgebox(m *manifests, deployment *appsv1.Deployment, container *corev1.Container, found *problems) {
	text, ok := m.configMaps[0].Data[configKey]
	if !ok {
		found.add("configmap %s: no %s key", m.configMaps[0].Name, configKey)
		return
	}
	var config edgeboxConfig
	if err := yaml.Unmarshal([]byte(text), &config); err != nil {
		found.add("configmap %s: %s: %v", m.configMaps[0].Name, configKey, err)
		return
	}
	shutdown, err := durationMs(config.Server.ShutdownTimeout, 10_000)
	if err != nil {
		found.add("configmap: server.shutdownTimeout: %v", err)
	}
	drain, err := durationMs(config.Server.DrainDelay, 0)
	if err != nil {
		found.add("configmap: server.drainDelay: %v", err)
	}
	spec := &deployment.Spec.Template.Spec
	grace := int64(30)
	if spec.TerminationGracePeriodSeconds != nil {
		grace = *spec.TerminationGracePeriodSeconds
	}
	preStop := int64(0)
	if container.Lifecycle != nil && container.Lifecycle.PreStop != nil {
		if container.Lifecycle.PreStop.Sleep == nil {
			found.add("container %s: preStop should be a sleep action (the image has no shell)", container.Name)
		} else {
			preStop = container.Lifecycle.PreStop.Sleep.Seconds
		}
	}
	needed := float64(preStop) + (drain+shutdown)/1000 + minMarginSeconds
	if float64(grace) < needed {
		found.add("deployment %s: terminationGracePeriodSeconds %d < preStop %ds + drainDelay %gs + shutdownTimeout %gs + margin %ds", deployment.Name, grace, preStop, drain/1000, shutdown/1000, minMarginSeconds)
	}
	if drain > 0 && container.ReadinessProbe != nil {
		p := container.ReadinessProbe
		window := float64(max(p.PeriodSeconds, 1) * max(p.FailureThreshold, 1))
		if window*1000 > drain {
			found.add("container %s: readinessProbe needs %gs (periodSeconds x failureThreshold) to see /ready turn 503, longer than drainDelay %gs", container.Name, window, drain/1000)
		}
	}

	// Replicas share nothing but the real backends.
	replicas := int32(1)
	if deployment.Spec.Replicas != nil {
		replicas = *deployment.Spec.Replicas
	}
	if replicas > 1 || len(m.hpas) > 0 {
		names := make([]string, 0, len(config.Plugins))
		for name := range config.Plugins {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			backend, _ := config.Plugins[name]["backend"].(string)
			if backend == "sqlite" || backend == "filesystem" {
				found.add("configmap: plugin %s uses backend %s, which locks one data directory and cannot run as replicas (use a real backend, or one replica without the autoscaler)", name, backend)
			}
		}
	}
}

var durationPattern = regexp.MustCompile(`^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$`)

var durationUnits = map[string]float64{
	"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
}

// durationMs reads a duration the way edgebox's config does: `10s`, `500ms`, or milliseconds.
func durationMs(value any, fallback float64) (float64, error) {
	switch v := value.(type) {
	case nil:
		return fallback, nil
	case float64:
		return v, nil
	case string:
		match := durationPattern.FindStringSubmatch(strings.TrimSpace(v))
		if match == nil {
			return 0, fmt.Errorf("%q is not a literal duration such as 10s", v)
		}
		number, _ := strconv.ParseFloat(match[1], 64)
		return number * durationUnits[match[2]], nil
	default:
		return 0, fmt.Errorf("%v is not a duration", v)
	}
}

// podEnv is the container's environment as the pod would see it, secrets resolved.
func podEnv(m *manifests) string {
	secret := m.secrets[0]
	var out strings.Builder
	for _, env := range m.deployments[0].Spec.Template.Spec.Containers[0].Env {
		value := env.Value
		if env.ValueFrom != nil && env.ValueFrom.SecretKeyRef != nil {
			key := env.ValueFrom.SecretKeyRef.Key
			if text, ok := secret.StringData[key]; ok {
				value = text
			} else {
				value = string(secret.Data[key])
			}
		}
		fmt.Fprintf(&out, "%s=%s\n", env.Name, value)
	}
	return out.String()
}
