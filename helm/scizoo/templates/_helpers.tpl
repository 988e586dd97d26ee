{{- define "scizoo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "scizoo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "scizoo.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "scizoo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: scizoo
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* (dict "root" $ "component" "scicow") */}}
{{- define "scizoo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scizoo.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "scizoo.componentLabels" -}}
{{ include "scizoo.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "scizoo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "scizoo.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* A component's image: (dict "root" $ "component" "scicow"). One image per place (docs/deploy.md):
the web image for scanlog and scidog, <repository>-<extra> for the others unless values name one. */}}
{{- define "scizoo.image" -}}
{{- $image := .root.Values.image -}}
{{- $extras := dict "scicow" "scicow" "scireduce" "reduce" "scifly" "scifly" "scifix" "fixity" -}}
{{- $repository := $image.repository -}}
{{- if hasKey $extras .component -}}
{{- $repository = default (printf "%s-%s" $image.repository (get $extras .component)) (get $image .component) -}}
{{- end -}}
{{- printf "%s:%s" $repository (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}

{{/* A secret reference as an env entry: (dict "name" "ENV" "secret" "s" "key" "k") */}}
{{- define "scizoo.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret | quote }}
      key: {{ .key | quote }}
{{- end -}}

{{/* MongoDB settings for one prefix: (dict "root" $ "prefix" "SCICOW") */}}
{{- define "scizoo.mongoEnv" -}}
{{- $m := .root.Values.mongo -}}
{{ include "scizoo.secretEnv" (dict "name" (printf "%s_MONGO_URI" .prefix) "secret" $m.existingSecret "key" $m.uriKey) }}
- name: {{ .prefix }}_DATABASE
  value: {{ $m.database | quote }}
{{- end -}}

{{- define "scizoo.writeConcernEnv" -}}
{{- $w := .root.Values.mongo.writeConcern -}}
- name: {{ .prefix }}_WRITE_CONCERN_W
  value: {{ $w.w | toString | quote }}
- name: {{ .prefix }}_WRITE_CONCERN_J
  value: {{ $w.j | toString | quote }}
{{- end -}}

{{/* Kafka settings for one prefix: (dict "root" $ "prefix" "SCICOW") */}}
{{- define "scizoo.kafkaEnv" -}}
{{- $k := .root.Values.kafka -}}
- name: {{ .prefix }}_KAFKA_BOOTSTRAP
  value: {{ $k.bootstrap | quote }}
- name: {{ .prefix }}_TOPIC_PREFIX
  value: {{ $k.topicPrefix | quote }}
- name: {{ .prefix }}_KAFKA_SECURITY_PROTOCOL
  value: {{ $k.securityProtocol | quote }}
{{- if hasPrefix "SASL" $k.securityProtocol }}
- name: {{ .prefix }}_KAFKA_SASL_MECHANISM
  value: {{ $k.sasl.mechanism | quote }}
{{ include "scizoo.secretEnv" (dict "name" (printf "%s_KAFKA_SASL_USERNAME" .prefix) "secret" $k.sasl.existingSecret "key" $k.sasl.usernameKey) }}
{{ include "scizoo.secretEnv" (dict "name" (printf "%s_KAFKA_SASL_PASSWORD" .prefix) "secret" $k.sasl.existingSecret "key" $k.sasl.passwordKey) }}
{{- end }}
{{- if $k.ssl.caSecret }}
- name: {{ .prefix }}_KAFKA_SSL_CAFILE
  value: {{ printf "/etc/scizoo/kafka-ca/%s" $k.ssl.caKey | quote }}
{{- end }}
{{- end -}}

{{/* Plain extra env from a map */}}
{{- define "scizoo.extraEnv" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* OIDC and static tokens for a web service: (dict "prefix" "SCANLOG" "cfg" .Values.scanlog) */}}
{{- define "scizoo.authEnv" -}}
{{- with .cfg.oidc }}
{{- if .issuer }}
- name: {{ $.prefix }}_OIDC__ISSUER
  value: {{ .issuer | quote }}
- name: {{ $.prefix }}_OIDC__AUDIENCE
  value: {{ .audience | quote }}
- name: {{ $.prefix }}_OIDC__JWKS_URL
  value: {{ .jwksUrl | quote }}
- name: {{ $.prefix }}_OIDC__GROUPS_CLAIM
  value: {{ .groupsClaim | quote }}
{{- end }}
{{- end }}
{{- if .cfg.tokens.existingSecret }}
{{ include "scizoo.secretEnv" (dict "name" (printf "%s_TOKENS" .prefix) "secret" .cfg.tokens.existingSecret "key" .cfg.tokens.key) }}
{{- end }}
{{- end -}}

{{/* Probes on a named port */}}
{{- define "scizoo.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: {{ . }}}
  periodSeconds: 5
  failureThreshold: 24
livenessProbe:
  httpGet: {path: /healthz, port: {{ . }}}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: {{ . }}}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{/* Kafka CA volume (when set) */}}
{{- define "scizoo.kafkaCaVolume" -}}
{{- if .Values.kafka.ssl.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.ssl.caSecret | quote }}
    items:
      - key: {{ .Values.kafka.ssl.caKey | quote }}
        path: {{ .Values.kafka.ssl.caKey | quote }}
{{- end }}
{{- end -}}

{{- define "scizoo.kafkaCaMount" -}}
{{- if .Values.kafka.ssl.caSecret }}
- name: kafka-ca
  mountPath: /etc/scizoo/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/*
One Deployment. (dict "root" $ "component" "scicow" "cfg" .Values.scicow
  "args" (list ...) "port" 9100 "portName" "metrics" "env" "<yaml>" "volumes" "<yaml>" "mounts" "<yaml>" "replicas" true)
*/}}
{{- define "scizoo.deployment" -}}
{{- $root := .root -}}
{{- $cfg := .cfg -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "scizoo.fullname" $root }}-{{ .component }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "scizoo.componentLabels" . | nindent 4 }}
spec:
  {{- if .replicas }}
  replicas: {{ $cfg.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    {{- if .recreate }}
    type: Recreate
    {{- else }}
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: {{ .maxUnavailable | default 0 }}
      maxSurge: 1
    {{- end }}
  selector:
    matchLabels:
      {{- include "scizoo.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "scizoo.componentLabels" . | nindent 8 }}
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/configmaps.yaml") $root | sha256sum }}
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "scizoo.serviceAccountName" $root }}
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $cfg.terminationGracePeriodSeconds | default 30 }}
      containers:
        - name: {{ .component }}
          image: {{ include "scizoo.image" (dict "root" $root "component" .component) | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          ports:
            - name: {{ .portName }}
              containerPort: {{ .port }}
              protocol: TCP
          env:
            {{- .env | nindent 12 }}
            {{- include "scizoo.extraEnv" $cfg.env | nindent 12 }}
          {{- include "scizoo.probes" .portName | nindent 10 }}
          resources:
            {{- toYaml $cfg.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- include "scizoo.kafkaCaMount" $root | nindent 12 }}
            {{- .mounts | default "" | nindent 12 }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $root.Values.tmpSizeLimit }}
        {{- include "scizoo.kafkaCaVolume" $root | nindent 8 }}
        {{- .volumes | default "" | nindent 8 }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}

{{/* A ClusterIP Service: (dict "root" $ "component" "x" "port" 8000 "portName" "http") */}}
{{- define "scizoo.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "scizoo.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "scizoo.componentLabels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "scizoo.selectorLabels" . | nindent 4 }}
  ports:
    - name: {{ .portName }}
      port: {{ .port }}
      targetPort: {{ .portName }}
      protocol: TCP
{{- end -}}
